/**
 * The export CLI (cli/export.ts + cli/exportClient.ts) against a local HTTP server that plays
 * the export API: campaign pages, POST /campaigns/{id}/exports, GET /exports/{id} and a SAS-style blob
 * download. Time is virtual (a fake clock), HTTP and files are real.
 */
import { execFile } from "node:child_process";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { CliUsageError, main, parseCliOptions, runOptionsFrom, USAGE } from "../../cli/export.js";
import {
  exitCodeFor,
  exportRequestBody,
  fileExtension,
  labelStatusFor,
  maskFolderFor,
  outputFileName,
  parseCampaignSelection,
  progressText,
  safeFileName,
  selectCampaigns,
  summaryLines,
  TerminalOutput,
  type CampaignResult,
  type Clock,
} from "../../cli/exportClient.js";

const KEY = "test-key";
const SECRET = "test-secret";

// ---------------------------------------------------------------------------------------------
// The fake API

interface FakeCampaign {
  id: number;
  title: string;
  /** What the export job ends as; `never` stays running forever. */
  outcome: "succeeded" | "failed" | "never";
  /** GETs answered `running` before the outcome. */
  polls?: number;
  images?: number;
  objects?: number;
  content?: string;
  /** Path of the blob (decides the extension). */
  blobFile?: string;
  /** Answer to the POST instead of a job. */
  reject?: { status: number; detail: string };
  /** The first download URL is "expired" (403); a renewed one works. */
  expiredFirstUrl?: boolean;
  /** GETs of the job that answer 503 before the normal answers. */
  flakyGets?: number;
  warnings?: string[];
}

interface Job {
  exportId: string;
  campaign: FakeCampaign;
  body: Record<string, unknown>;
  gets: number;
  urlVersion: number;
}

interface FakeApi {
  url: string;
  apiUrl: string;
  /** Every request: method, path+query, whether API credentials came along. */
  requests: { method: string; url: string; authed: boolean }[];
  bodies: Map<number, Record<string, unknown>>;
  campaigns: FakeCampaign[];
  stop(): Promise<void>;
}

const PAGE = 2;

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown>;
}

async function startFakeApi(campaigns: FakeCampaign[]): Promise<FakeApi> {
  const jobs = new Map<string, Job>();
  const api: Omit<FakeApi, "url" | "apiUrl" | "stop"> = { requests: [], bodies: new Map(), campaigns };
  let base = "";

  const view = (job: Job) => {
    const c = job.campaign;
    const polls = c.polls ?? 2;
    const finished = c.outcome !== "never" && job.gets > polls;
    const status = job.gets === 0 ? "queued" : finished ? c.outcome : "running";
    const total = c.images ?? 0;
    const done = finished ? total : Math.min(total, Math.floor((total * job.gets) / polls));
    if (status === "succeeded") job.urlVersion++;
    const file = c.blobFile ?? `${c.title}_${String(job.body.format)}.json`;
    return {
      export_id: job.exportId,
      campaign_id: c.id,
      format: job.body.format,
      status,
      options: {},
      progress: { done, total },
      counts: { images: status === "succeeded" ? total : 0, objects: status === "succeeded" ? (c.objects ?? 0) : 0 },
      warnings: status === "succeeded" ? (c.warnings ?? []) : [],
      warning_count: status === "succeeded" ? (c.warnings ?? []).length : 0,
      created_by: "admin@test.example",
      date_created: "2024-06-01 00:00:00",
      date_started: job.gets > 0 ? "2024-06-01 00:00:01" : null,
      date_finished: finished ? "2024-06-01 00:00:09" : null,
      download_url: status === "succeeded" ? `${base}/blob/downloads/${c.id}/${job.exportId}/${file}?sig=v${job.urlVersion}` : null,
      error: status === "failed" ? "renderer crashed on image 7" : null,
    };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", base);
    const authed = req.headers["authentication-key"] === KEY && req.headers["authentication-secret"] === SECRET;
    api.requests.push({ method: req.method ?? "", url: `${url.pathname}${url.search}`, authed: req.headers["authentication-key"] !== undefined });

    // The "blob store": needs no credentials, only a current signature; streams in several chunks.
    const blob = /^\/blob\/downloads\/(\d+)\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (blob) {
      const job = jobs.get(decodeURIComponent(blob[2]!));
      if (!job) return send(res, 404, { detail: "BlobNotFound" });
      if (job.campaign.expiredFirstUrl && url.searchParams.get("sig") === "v1") {
        res.writeHead(403, { "content-type": "application/xml" });
        return res.end("<Error><Code>AuthenticationFailed</Code></Error>");
      }
      const content = Buffer.from(job.campaign.content ?? "");
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(content.length) });
      for (let i = 0; i < content.length; i += 16 * 1024) {
        if (!res.write(content.subarray(i, i + 16 * 1024))) await new Promise((r) => res.once("drain", r));
      }
      return res.end();
    }

    if (!authed) return send(res, 401, { status: 401, detail: "missing or invalid Authentication-Key / Authentication-Secret" });

    if (req.method === "GET" && url.pathname === "/api/v1/campaigns") {
      const page = Number(url.searchParams.get("page") ?? "1");
      const pages = Math.max(1, Math.ceil(campaigns.length / PAGE));
      const slice = campaigns.slice((page - 1) * PAGE, page * PAGE);
      return send(res, 200, {
        campaigns: slice.map((c) => ({ campaign_id: c.id, title: c.title, status: "active", progress: { done: c.images ?? 0, total: 10 }, metadata: null })),
        pagination: { page, pages, per_page: PAGE, total: campaigns.length, next: page < pages ? page + 1 : null, prev: page > 1 ? page - 1 : null },
      });
    }
    const post = /^\/api\/v1\/campaigns\/(\d+)\/exports$/.exec(url.pathname);
    if (req.method === "POST" && post) {
      const campaign = campaigns.find((c) => c.id === Number(post[1]));
      if (!campaign) return send(res, 404, { status: 404, detail: `campaign ${post[1]} does not exist` });
      const body = await readJson(req);
      api.bodies.set(campaign.id, body);
      if (campaign.reject) return send(res, campaign.reject.status, { status: campaign.reject.status, detail: campaign.reject.detail });
      const job: Job = { exportId: `${campaign.id}-20240601000000-${(jobs.size + 1).toString(16).padStart(8, "0")}`, campaign, body, gets: 0, urlVersion: 0 };
      jobs.set(job.exportId, job);
      return send(res, 202, view(job));
    }
    const get = /^\/api\/v1\/exports\/([^/]+)$/.exec(url.pathname);
    if (req.method === "GET" && get) {
      const job = jobs.get(decodeURIComponent(get[1]!));
      if (!job) return send(res, 404, { status: 404, detail: `export ${get[1]} does not exist` });
      if ((job.campaign.flakyGets ?? 0) > 0) {
        job.campaign.flakyGets!--;
        return send(res, 503, { status: 503, detail: "table storage is busy" });
      }
      job.gets++;
      return send(res, 200, view(job));
    }
    send(res, 404, { status: 404, detail: `no route ${req.method} ${url.pathname}` });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => send(res, 500, { status: 500, detail: String(error) }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    ...api,
    url: base,
    apiUrl: `${base}/api/v1`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Virtual time: sleeping advances the clock at once (after letting I/O run). */
function fakeClock(onSleep?: (calls: number) => void): Clock & { sleeps: number[] } {
  let now = 1_000_000;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: async (ms, signal) => {
      sleeps.push(ms);
      onSleep?.(sleeps.length);
      await new Promise((r) => setImmediate(r));
      if (signal?.aborted) throw signal.reason;
      now += ms;
    },
  };
}

/** A stream that records what is written. */
function capture(isTTY = false) {
  const chunks: string[] = [];
  return {
    isTTY,
    write: (text: string) => {
      chunks.push(text);
      return true;
    },
    get text() {
      return chunks.join("");
    },
  };
}

const BIG = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ image_id: i, objects: [{ label: "cat", box: [i, i, i + 5, i + 5] }] })).join("\n");

const SCENARIO: FakeCampaign[] = [
  { id: 1, title: "cats", outcome: "succeeded", polls: 3, images: 3, objects: 7, content: BIG, warnings: ["image 9: polygon with 2 points skipped"] },
  { id: 2, title: "empty-set", outcome: "succeeded", images: 0, content: "[]" },
  { id: 3, title: "broken", outcome: "failed", images: 5 },
  { id: 4, title: "slow", outcome: "never", polls: 40, images: 100 },
  { id: 5, title: "rejected", outcome: "succeeded", reject: { status: 422, detail: "label_status: Invalid option" } },
];

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "export-cli-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function env(api: FakeApi, extra: Record<string, string> = {}): Record<string, string> {
  return { LABEL_API_URL: api.apiUrl, LABEL_API_KEY: KEY, LABEL_API_SECRET: SECRET, EXPORT_OUT: dir, EXPORT_TIMEOUT: "20", EXPORT_POLL_MS: "1000", ...extra };
}

// ---------------------------------------------------------------------------------------------

describe("export client helpers", () => {
  it("maps seed 004's status words onto the API's label_status", () => {
    expect(labelStatusFor("complete")).toBe("admin_complete");
    expect(labelStatusFor("all")).toBe("all");
    expect(labelStatusFor("user_complete")).toBe("user_complete");
  });

  it("parses and resolves campaign selections by id or title", () => {
    expect(parseCampaignSelection(undefined)).toBe("all");
    expect(parseCampaignSelection(" ALL ")).toBe("all");
    expect(parseCampaignSelection("3, cats,,3")).toEqual(["3", "cats"]);
    const all = [
      { campaign_id: 3, title: "dogs" },
      { campaign_id: 7, title: "cats" },
      { campaign_id: 9, title: "42" },
    ];
    expect(selectCampaigns(all, ["cats", "3", "7", "nope", "42"])).toEqual({ campaigns: [all[1], all[0], all[2]], missing: ["nope"] });
    expect(selectCampaigns(all, "all").campaigns).toHaveLength(3);
  });

  it("names files <title>_<export_id><ext>, portable and with the server's extension", () => {
    expect(outputFileName("street-signs.v2", "12-20240601000000-0a0b0c0d", ".json")).toBe("street-signs.v2_12-20240601000000-0a0b0c0d.json");
    expect(safeFileName("../a b/c")).toBe("__a_b_c");
    expect(safeFileName("")).toBe("campaign");
    expect(fileExtension("http://127.0.0.1:10000/acct/exports/downloads/1/x/cats_yolo.zip?sv=1&sig=abc", "json")).toBe(".zip");
    expect(fileExtension("http://host/blob/report%20final.CSV?sig=1", "json")).toBe(".csv");
    expect(fileExtension("http://host/blob/no-extension?sig=1", "voc")).toBe(".zip");
    expect(fileExtension(null, "coco")).toBe(".json");
  });

  it("builds the POST body with only the filters given, and a per-campaign mask folder", () => {
    const campaign = { campaign_id: 4, title: "cats" };
    expect(exportRequestBody("csv", { labelStatus: "all" }, campaign)).toEqual({ format: "csv", label_status: "all" });
    expect(
      exportRequestBody("json", { labelStatus: "admin_complete", testData: false, start: "2024-01-01", lastActivityEnd: "2024-02-01 10:00:00" }, campaign),
    ).toEqual({
      format: "json",
      label_status: "admin_complete",
      test_data: false,
      start: "2024-01-01",
      last_activity_end: "2024-02-01 10:00:00",
    });
    expect(
      exportRequestBody("masks", { labelStatus: "admin_complete" }, campaign, { folder: "gt/{campaign_id}-{title}", gtMode: "center_dot", suffix: "_m" }),
    ).toMatchObject({
      output_folder: "gt/4-cats",
      gt_mode: "center_dot",
      suffix: "_m",
    });
    expect(maskFolderFor("/masks/", campaign)).toBe("masks/cats");
  });

  it("summarises results and picks the exit status", () => {
    const ok: CampaignResult = { campaignId: 1, title: "a", outcome: "downloaded", bytes: 2048, elapsedMs: 1 };
    const skipped: CampaignResult = { campaignId: 2, title: "b", outcome: "skipped", elapsedMs: 1 };
    const failed: CampaignResult = { campaignId: 3, title: "c", outcome: "failed", error: "boom", elapsedMs: 1 };
    expect(exitCodeFor([ok, skipped])).toBe(0);
    expect(exitCodeFor([ok, failed])).toBe(1);
    expect(exitCodeFor([{ ...failed, outcome: "timed_out" }])).toBe(1);
    expect(summaryLines([ok, skipped, failed])).toEqual([
      "Summary: 1 downloaded, 1 skipped, 1 failed, 0 timed out (3 campaigns, 2.0 kB written)",
      "  failed: c (#3): boom",
    ]);
    expect(progressText({ status: "running", progress: { done: 1, total: 3 } }, 12_400)).toBe("running 1/3 (33%) 12s");
    expect(progressText({ status: "queued", progress: { done: 0, total: 0 } }, 0)).toBe("queued 0s");
  });

  it("rewrites one status line on a TTY and prints changed statuses as lines elsewhere", () => {
    const tty = capture(true);
    const out = new TerminalOutput(tty);
    out.status("running 1/3");
    out.status("running 1/3");
    out.status("running 2/3");
    out.line("done");
    expect(tty.text).toBe("\r\x1b[Krunning 1/3\r\x1b[Krunning 2/3\r\x1b[Kdone\n");
    // Never wider than the terminal, or \r would only rewrite the last wrapped row.
    const narrow = Object.assign(capture(true), { columns: 10 });
    new TerminalOutput(narrow).status("running 100/100 (100%) 12s");
    expect(narrow.text).toBe("\r\x1b[Krunning …");
    const pipe = capture(false);
    const plain = new TerminalOutput(pipe);
    plain.status("running 1/3");
    plain.status("running 1/3");
    plain.status("running 2/3");
    plain.line("done");
    expect(pipe.text).toBe("running 1/3\nrunning 2/3\ndone\n");
  });
});

describe("export CLI options", () => {
  const base = { LABEL_API_KEY: "k", LABEL_API_SECRET: "s" };

  it("has defaults for everything but the credentials", () => {
    const s = parseCliOptions([], base)!;
    expect(s).toMatchObject({
      LABEL_API_URL: "http://localhost:7071/api/v1",
      EXPORT_CAMPAIGNS: "all",
      EXPORT_STATUS: "complete",
      EXPORT_FORMAT: "json",
      EXPORT_OUT: "./exports",
      EXPORT_TIMEOUT: 600,
      EXPORT_POLL_MS: 2000,
      EXPORT_REQUEST_TIMEOUT: 60,
    });
    const run = runOptionsFrom(s);
    expect(run).toMatchObject({ campaigns: "all", format: "json", filters: { labelStatus: "admin_complete" }, timeoutMs: 600_000, pollMs: 2000 });
    expect(run.masks).toBeUndefined();
  });

  it("lets flags override the environment; empty variables mean the default", () => {
    const s = parseCliOptions(["--format", "csv", "--campaigns", "1,cats", "--status=all", "--test-data", "true", "--start", "2024-05-01"], {
      ...base,
      EXPORT_FORMAT: "coco",
      EXPORT_CAMPAIGNS: "9",
      EXPORT_TIMEOUT: "30",
      EXPORT_OUT: "",
    })!;
    expect(s).toMatchObject({
      EXPORT_FORMAT: "csv",
      EXPORT_CAMPAIGNS: ["1", "cats"],
      EXPORT_STATUS: "all",
      EXPORT_TIMEOUT: 30,
      EXPORT_OUT: "./exports",
      EXPORT_TEST_DATA: true,
    });
    expect(runOptionsFrom(s).filters).toEqual({ labelStatus: "all", testData: true, start: "2024-05-01" });
  });

  it("rejects bad settings naming the variable and the flag", () => {
    expect(() => parseCliOptions([], {})).toThrow(/LABEL_API_KEY \(--key\): is required/);
    expect(() => parseCliOptions(["--format", "pdf"], base)).toThrow(/EXPORT_FORMAT \(--format\)/);
    expect(() => parseCliOptions([], { ...base, EXPORT_TIMEOUT: "soon" })).toThrow(/EXPORT_TIMEOUT \(--timeout\)/);
    expect(() => parseCliOptions(["--end", "01/02/2024"], base)).toThrow(/EXPORT_END \(--end\): dates are/);
    expect(() => parseCliOptions(["--format", "masks"], base)).toThrow(/EXPORT_GT_MODE \(--gt-mode\): is required with format masks/);
    expect(() => parseCliOptions(["--bogus"], base)).toThrow(CliUsageError);
    expect(() => parseCliOptions(["stray"], base)).toThrow(CliUsageError);
    const masks = runOptionsFrom(parseCliOptions(["--format", "masks", "--gt-mode", "filled_semantic"], base)!);
    expect(masks.masks).toEqual({ folder: "masks/{title}", gtMode: "filled_semantic" });
  });

  it("prints usage for --help and exits 2 on bad options", async () => {
    const stdout = capture();
    const stderr = capture();
    expect(await main(["--help"], {}, { stdout, stderr })).toBe(0);
    expect(stdout.text).toBe(USAGE);
    for (const name of [
      "LABEL_API_URL",
      "LABEL_API_KEY",
      "LABEL_API_SECRET",
      "EXPORT_CAMPAIGNS",
      "EXPORT_STATUS",
      "EXPORT_FORMAT",
      "EXPORT_OUT",
      "EXPORT_TIMEOUT",
      "EXPORT_POLL_MS",
    ]) {
      expect(USAGE).toContain(name);
    }
    expect(await main(["--format", "pdf"], base, { stdout: capture(), stderr })).toBe(2);
    expect(stderr.text).toMatch(/EXPORT_FORMAT[\s\S]*--help/);
  });
});

describe("export CLI against a fake API", () => {
  let api: FakeApi;
  beforeAll(async () => {
    api = await startFakeApi(structuredClone(SCENARIO));
  });
  afterAll(async () => {
    await api.stop();
  });

  it("exports every campaign: downloads, skips the empty one, reports the failed, rejected and timed-out ones, exits 1", async () => {
    const stdout = capture(false);
    const stderr = capture();
    const clock = fakeClock();
    const code = await main([], env(api), { stdout, stderr, clock });
    const out = stdout.text;

    expect(code).toBe(1);
    expect(stderr.text).toBe("");
    // All pages of the campaign list were read, asking for 100 per page.
    expect(api.requests.filter((r) => r.url.startsWith("/api/v1/campaigns?")).map((r) => r.url)).toEqual([
      "/api/v1/campaigns?page=1&per_page=100",
      "/api/v1/campaigns?page=2&per_page=100",
      "/api/v1/campaigns?page=3&per_page=100",
    ]);
    // "complete" became admin_complete; nothing else sent.
    expect(api.bodies.get(1)).toEqual({ format: "json", label_status: "admin_complete" });
    expect([...api.bodies.keys()].sort()).toEqual([1, 2, 3, 4, 5]);
    // API calls carry credentials; the SAS download does not.
    expect(api.requests.filter((r) => r.url.startsWith("/api/")).every((r) => r.authed)).toBe(true);
    expect(api.requests.filter((r) => r.url.startsWith("/blob/")).map((r) => r.authed)).toEqual([false]);

    // The downloaded file: named <title>_<export_id>.json, byte for byte what the server sent.
    const files = await readdir(dir);
    expect(files).toEqual(["cats_1-20240601000000-00000001.json"]);
    expect(await readFile(join(dir, files[0]!), "utf8")).toBe(BIG);

    // Progress, per campaign, as plain lines (not a TTY): no carriage returns.
    expect(out).not.toContain("\r");
    expect(out).toContain("Exporting 5 campaigns as json (label_status admin_complete) to " + dir);
    expect(out).toContain("[1/5] cats (#1): export 1-20240601000000-00000001 queued");
    expect(out).toMatch(/\[1\/5\] cats \(#1\): running 1\/3 \(33%\) 1s\n/);
    expect(out).toMatch(/\[1\/5\] cats \(#1\): running 2\/3 \(66%\) 2s\n/);
    expect(out).toMatch(new RegExp(`\\[1/5\\] cats \\(#1\\): downloaded ${escape(join(dir, files[0]!))} \\(\\d+\\.\\d kB; 3 images, 7 objects, 1 warning\\)`));
    expect(out).toContain("warning: image 9: polygon with 2 points skipped");
    expect(out).toContain("[2/5] empty-set (#2): skipped: nothing to export");
    expect(out).toContain("[3/5] broken (#3): failed: export 3-20240601000000-00000003 failed: renderer crashed on image 7");
    expect(out).toMatch(/\[4\/5\] slow \(#4\): timed out: timed out after 20s \(export 4-\S+ still running on the server/);
    expect(out).toContain("[5/5] rejected (#5): failed: POST /campaigns/5/exports -> 422: label_status: Invalid option");

    // The summary closes the output.
    const summary = out.slice(out.indexOf("Summary:"));
    expect(summary.split("\n")).toEqual([
      expect.stringMatching(/^Summary: 1 downloaded, 1 skipped, 2 failed, 1 timed out \(5 campaigns, \d+\.\d kB written\)$/),
      "  failed: broken (#3): export 3-20240601000000-00000003 failed: renderer crashed on image 7",
      expect.stringMatching(/^ {2}timed out: slow \(#4\): timed out after 20s/),
      "  failed: rejected (#5): POST /campaigns/5/exports -> 422: label_status: Invalid option",
      "",
    ]);
    // The slow export was polled at the poll interval until the 20 s were used up, then given up on.
    const slowPolls = api.requests.filter((r) => r.url.startsWith("/api/v1/exports/4-")).length;
    expect(slowPolls).toBe(20);
    expect(clock.sleeps.every((ms) => ms <= 1000)).toBe(true);
  });

  it("exports the campaigns selected by id or title, and exits 0 when all went well", async () => {
    const stdout = capture();
    const code = await main(["--campaigns", "empty-set,1", "--status", "all", "--format", "csv"], env(api), { stdout, stderr: capture(), clock: fakeClock() });
    expect(code).toBe(0);
    expect(stdout.text).toContain("Exporting 2 campaigns as csv (label_status all)");
    expect(stdout.text.indexOf("empty-set (#2)")).toBeLessThan(stdout.text.indexOf("cats (#1)"));
    expect(stdout.text).toMatch(/Summary: 1 downloaded, 1 skipped, 0 failed, 0 timed out \(2 campaigns/);
    // The extension comes from the download URL (the fake blob is .json whatever the format).
    expect((await readdir(dir)).filter((f) => f.startsWith("cats_"))).toHaveLength(1);
  });

  it("counts an unknown campaign in the selection as failed", async () => {
    const stdout = capture();
    const code = await main([], env(api, { EXPORT_CAMPAIGNS: "empty-set,nope" }), { stdout, stderr: capture(), clock: fakeClock() });
    expect(code).toBe(1);
    expect(stdout.text).toContain('nope: failed: no campaign with id or title "nope"');
    expect(stdout.text).toMatch(/Summary: 0 downloaded, 1 skipped, 1 failed, 0 timed out \(2 campaigns/);
  });

  it("rewrites a single progress line on a TTY", async () => {
    const stdout = capture(true);
    expect(await main(["--campaigns", "cats"], env(api), { stdout, stderr: capture(), clock: fakeClock() })).toBe(0);
    const out = stdout.text;
    expect(out).toContain("\r\x1b[K[1/1] cats (#1): running 1/3 (33%) 1s\r\x1b[K[1/1] cats (#1): running 2/3 (66%) 2s");
    // Permanent lines clear the status line first and end with a newline; statuses never do.
    // eslint-disable-next-line no-control-regex -- the terminal's escape sequence is what is tested
    expect(out).toMatch(/\r\x1b\[K\[1\/1\] cats \(#1\): downloaded .*\n/);
    expect(out.split("\n").filter((l) => l.includes("running"))).toHaveLength(1);
  });

  it("fails the whole run with exit 1 when the credentials are wrong", async () => {
    const stderr = capture();
    expect(await main([], { ...env(api), LABEL_API_SECRET: "wrong" }, { stdout: capture(), stderr, clock: fakeClock() })).toBe(1);
    expect(stderr.text).toBe("error: GET /campaigns?page=1&per_page=100 -> 401: missing or invalid Authentication-Key / Authentication-Secret\n");
  });
});

describe("export CLI recovery", () => {
  let api: FakeApi;
  beforeEach(async () => {
    api = await startFakeApi([
      { id: 1, title: "expired", outcome: "succeeded", images: 2, content: "a,b\n1,2\n", blobFile: "expired_csv.csv", expiredFirstUrl: true },
      { id: 2, title: "flaky", outcome: "succeeded", images: 1, content: "{}", flakyGets: 2 },
      { id: 3, title: "later", outcome: "succeeded", images: 1, content: "{}" },
    ]);
  });
  afterEach(async () => {
    await api.stop();
  });

  it("renews an expired download URL and polls through transient 503s", async () => {
    const stdout = capture();
    expect(await main(["--campaigns", "1,2"], env(api), { stdout, stderr: capture(), clock: fakeClock() })).toBe(0);
    expect(stdout.text).toContain("download: HTTP 403 Forbidden; asking for a fresh download_url");
    expect(stdout.text).toContain("(retrying: GET /exports/2-20240601000000-00000002 -> 503: table storage is busy)");
    expect(api.requests.filter((r) => r.url.startsWith("/blob/downloads/1/")).map((r) => r.url.split("?")[1])).toEqual(["sig=v1", "sig=v2"]);
    expect(await readFile(join(dir, "expired_1-20240601000000-00000001.csv"), "utf8")).toBe("a,b\n1,2\n");
    expect((await readdir(dir)).sort()).toEqual(["expired_1-20240601000000-00000001.csv", "flaky_2-20240601000000-00000002.json"]);
  });

  it("stops on interrupt: the current export is cancelled, the rest not started, exit 130", async () => {
    const interrupt = new AbortController();
    const stdout = capture();
    const clock = fakeClock((calls) => {
      if (calls === 2) interrupt.abort();
    });
    const code = await main([], env(api), { stdout, stderr: capture(), clock, signal: interrupt.signal });
    expect(code).toBe(130);
    expect(stdout.text).toContain("[1/3] expired (#1): cancelled");
    expect(stdout.text).toContain("Summary: 0 downloaded, 0 skipped, 0 failed, 0 timed out, 3 cancelled (3 campaigns");
    expect(api.bodies.size).toBe(1);
    expect(await readdir(dir)).toEqual([]);
  });

  it("runs as a process: npm run export's entry point, real clock, exit status and summary", async () => {
    const run = promisify(execFile);
    const began = Date.now();
    const { stdout, stderr } = await run(process.execPath, ["--import", "tsx", "cli/export.ts", "--campaigns", "later", "--poll-ms", "100"], {
      cwd: join(import.meta.dirname, "../.."),
      env: { ...process.env, ...env(api), EXPORT_POLL_MS: "5000" },
    });
    expect(stderr).toBe("");
    // --poll-ms 100 won over EXPORT_POLL_MS=5000 (two polls at 5 s would take 10 s).
    expect(Date.now() - began).toBeLessThan(5000);
    expect(stdout).toContain("[1/1] later (#3): downloaded");
    expect(stdout).toMatch(/Summary: 1 downloaded, 0 skipped, 0 failed, 0 timed out \(1 campaign, 2 B written\)\n$/);
    expect(await readFile(join(dir, "later_3-20240601000000-00000001.json"), "utf8")).toBe("{}");
    const failing = await run(process.execPath, ["--import", "tsx", "cli/export.ts", "--campaigns", "nope"], {
      cwd: join(import.meta.dirname, "../.."),
      env: { ...process.env, ...env(api) },
    }).catch((error: { code: number; stdout: string }) => error);
    expect(failing).toMatchObject({ code: 1 });
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
