/**
 * Flat costs at scale, on the stack as `npm start` runs it (Azurite with its data on disk and blob
 * metadata in PostgreSQL), each figure beside its baseline from the same run:
 *   store:     recording a set of images into an empty store, and into one holding BENCH_STORE_SIZE (300,000)
 *              images in sets of 10,000 (a store grows by image sets, each a folder of its own);
 *   campaigns: for a small (BENCH_SMALL, 1,000) and a large (BENCH_LARGE, 100,000) campaign: adding the
 *              images through the API, labeling every image in batches of 100 (p50/p95 request latency),
 *              the time from the last submission to `completed`, and filtered pages (50 rejected images
 *              among the first 1,000, 50 test-data images spread over the campaign, a deep latest_labels page);
 *   export:    a COCO export through the API of the large campaign (10 objects per image), its time and
 *              this process's peak RSS (the local host runs in it).
 * Run: `npm run bench -- scale` or `npx tsx bench/scale.ts`.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import type { ImageFacts } from "../shared/repos/images.js";
import { ensureConsoleBuilt } from "../scripts/buildConsole.js";
import { npmStartCommand } from "../scripts/npmStart.js";
import { mapLimit } from "../shared/util/concurrency.js";
import {
  call,
  envInt,
  expectCall,
  fmt,
  fmtMb,
  fmtMs,
  isMain,
  now,
  percentile,
  perSecond,
  pollUntil,
  printTable,
  runAsScript,
  startBench,
  timed,
  type BenchContext,
} from "./common.js";

const WIDTH = 1920;
const HEIGHT = 1080;
const OBJECTS_PER_IMAGE = 10;
const BATCH = 100;
const CLIENTS = 6;

/** Ten boxes inside the image, varied by image id. */
function objectsFor(imageId: number) {
  return Array.from({ length: OBJECTS_PER_IMAGE }, (_, k) => {
    const x = (imageId * 37 + k * 211) % (WIDTH - 300);
    const y = (imageId * 53 + k * 127) % (HEIGHT - 300);
    return {
      label: ["car", "bicycle", "pedestrian", "sign", "tree"][k % 5]!,
      confidence: 0.5,
      bounding_box: { xmin: x, ymin: y, xmax: x + 120, ymax: y + 80 },
    };
  });
}

function facts(title: string, from: number, count: number): ImageFacts[] {
  return Array.from({ length: count }, (_, i) => ({
    blobPath: `uploads/${title}/img-${String(from + i).padStart(7, "0")}.jpg`,
    imagesetId: 1,
    imagesetTitle: title,
    width: WIDTH,
    height: HEIGHT,
    filesize: 400_000,
    filetype: "JPEG",
    dateTaken: null,
    lat: null,
    lon: null,
  }));
}

/** Records `count` images in chunks of 128 (the copy job's chunk), `parallel` chunks at a time; returns ids and images/s. */
async function record(ctx: BenchContext, title: string, count: number, parallel: number): Promise<{ ids: number[]; rate: number }> {
  const chunks = Array.from({ length: Math.ceil(count / 128) }, (_, i) => facts(title, i * 128, Math.min(128, count - i * 128)));
  const { value, ms } = await timed(() => mapLimit(chunks, parallel, (chunk) => ctx.host.services.images.record(chunk)));
  return { ids: value.flat().map((r) => r.imageId), rate: perSecond(count, ms) };
}

/** Image sets of this many images seed the store (the probes are one set of BENCH_RECORD_PROBE each). */
const SET_SIZE = 10_000;

/** Records `count` images as sets of SET_SIZE, one folder each; returns the ids in order. */
async function recordInSets(ctx: BenchContext, title: string, count: number): Promise<number[]> {
  const ids: number[] = [];
  for (let set = 0; set * SET_SIZE < count; set++) ids.push(...(await record(ctx, `${title}-${set}`, Math.min(SET_SIZE, count - set * SET_SIZE), 4)).ids);
  return ids;
}

interface CampaignFigures {
  size: number;
  addRate: number;
  addMs: number;
  labelRate: number;
  p50: number;
  p95: number;
  completionLag: number;
  rejectedPage: number;
  spreadPage: number;
  deepLabelsPage: number;
  campaignId: number;
}

async function campaignRun(ctx: BenchContext, ids: number[], log: (line: string) => void): Promise<CampaignFigures> {
  const size = ids.length;
  const created = await expectCall(ctx, 201, "POST", "/campaigns", ctx.admin, {
    title: `scale-${size}-${Date.now()}`,
    labeler_email: `scale-${size}-${Date.now()}@example.com`,
  });
  const campaignId = created.campaign_id as number;
  const partner = { "Authentication-Key": created.access_token.apikey as string, "Authentication-Secret": created.access_token.apisecret as string };

  // Adding: one request (a background addition above 10,000), until the campaign holds them all.
  const added = await timed(async () => {
    const answer = await call(
      ctx,
      "POST",
      `/campaigns/${campaignId}/images`,
      ctx.admin,
      ids.map((id) => ({ id })),
    );
    if (answer.status === 202) {
      await pollUntil(
        "addition",
        async () => {
          const addition = (await call(ctx, "GET", `/campaigns/${campaignId}/additions/${answer.body.addition_id}`, ctx.admin)).body;
          if (addition.status === "failed") throw new Error(`addition failed: ${addition.error}`);
          return addition.status === "succeeded";
        },
        200,
      );
    } else if (answer.status !== 200) throw new Error(`adding images answered ${answer.status}: ${JSON.stringify(answer.body).slice(0, 300)}`);
  });
  log(`  campaign of ${size}: added in ${fmtMs(added.ms)} (${fmt(perSecond(size, added.ms), 0)} images/s)`);
  await expectCall(ctx, 200, "PUT", `/campaigns/${campaignId}`, ctx.admin, { new_status: "active" });

  // Labeling every image: CLIENTS loops take the next batch of 100 until none are left.
  const batches = Array.from({ length: Math.ceil(size / BATCH) }, (_, b) =>
    ids.slice(b * BATCH, (b + 1) * BATCH).map((id) => ({ image_id: id, objects: objectsFor(id) })),
  );
  const latencies: number[] = [];
  let next = 0;
  const start = now();
  await Promise.all(
    Array.from({ length: Math.min(CLIENTS, batches.length) }, async () => {
      while (next < batches.length) {
        const batch = batches[next++]!;
        const began = now();
        await expectCall(ctx, 200, "PUT", `/campaigns/${campaignId}/objects`, partner, batch);
        latencies.push(now() - began);
        if (latencies.length % 200 === 0) log(`    ${latencies.length}/${batches.length} batches after ${fmtMs(now() - start)}`);
      }
    }),
  );
  const last = now();
  await pollUntil("completed", async () => (await call(ctx, "GET", `/campaigns/${campaignId}`, ctx.admin)).body.status === "completed", 20);
  const completionLag = now() - last;
  log(`  campaign of ${size}: labeled in ${fmtMs(last - start)}, completed ${fmtMs(completionLag)} after the last submission`);

  // Filtered pages (median of 20 each): 50 rejected images among the campaign's first 1,000 (the same layout
  // in both campaigns, so the same page), and 50 test-data images spread over the whole campaign (in the
  // large one, 50 buckets: one read each, the page's worst case).
  const firstThousand = Math.min(size, 1000);
  const rejected = Array.from({ length: 50 }, (_, i) => ids[Math.floor((i * firstThousand) / 50)]!);
  await expectCall(ctx, 200, "PUT", `/campaigns/${campaignId}/review`, ctx.admin, { image_ids: rejected, decision: "reject", comment: "bench" });
  const spread = Array.from({ length: 50 }, (_, i) => ids[Math.floor((i * size) / 50) + 1]!);
  await expectCall(ctx, 200, "PUT", `/campaigns/${campaignId}/test_data`, ctx.admin, { image_ids: spread, test_data: true });
  const median = async (fn: () => Promise<unknown>) => {
    const times: number[] = [];
    for (let i = 0; i < 20; i++) times.push((await timed(fn)).ms);
    return percentile(times, 50);
  };
  const rejectedPage = await median(() => expectCall(ctx, 200, "GET", `/campaigns/${campaignId}/images?label_status=rejected&per_page=100`, partner));
  const spreadPage = await median(() => expectCall(ctx, 200, "GET", `/campaigns/${campaignId}/images?test_data=true&per_page=100`, ctx.admin));
  const deepPage = Math.max(1, Math.floor(size / 100) - 1);
  const deepLabelsPage = await median(() =>
    expectCall(ctx, 200, "POST", `/campaigns/${campaignId}/latest_labels`, ctx.admin, { label_status: "user_complete", page: deepPage, per_page: 100 }),
  );
  return {
    size,
    addRate: perSecond(size, added.ms),
    addMs: added.ms,
    labelRate: perSecond(size, last - start),
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    completionLag,
    rejectedPage,
    spreadPage,
    deepLabelsPage,
    campaignId,
  };
}

/** The local host as `npm start` runs it (scripts/start.ts) on the bench's storage, in a process of its own. */
async function startHostProcess(ctx: BenchContext): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const start = npmStartCommand();
  const child = spawn(start.command, start.args, {
    cwd: start.cwd,
    env: {
      ...process.env,
      STORAGE_CONNECTION_STRING: ctx.config.settings.STORAGE_CONNECTION_STRING,
      RESOURCE_PREFIX: ctx.config.prefix,
      LOCAL_ADMIN_KEY: ctx.config.settings.LOCAL_ADMIN_KEY,
      LOCAL_ADMIN_SECRET: ctx.config.settings.LOCAL_ADMIN_SECRET,
      PORT: String(port),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  await pollUntil(
    "the host process",
    async () => {
      if (child.exitCode !== null) throw new Error(`host exited: ${output.slice(-2000)}`);
      return output.includes("API: ");
    },
    100,
    60_000,
  );
  return {
    url: `http://127.0.0.1:${port}/api/v1`,
    pid: child.pid!,
    stop: async () => {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** A process's peak resident set size so far, from /proc (Linux). */
function peakRss(pid: number): number {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return Number(kb ?? 0) * 1024;
}

export async function runScaleBench(log: (line: string) => void): Promise<void> {
  const storeSize = envInt("BENCH_STORE_SIZE", 300_000);
  const smallSize = envInt("BENCH_SMALL", 1_000);
  const largeSize = envInt("BENCH_LARGE", 100_000);
  const probe = envInt("BENCH_RECORD_PROBE", 10_000);
  // The host process at the end would build a missing console in itself, which its peak RSS would count.
  await ensureConsoleBuilt(log);
  const ctx = await startBench({ asLocalStack: true });
  try {
    log(`scale bench on the local stack (Azurite on disk, blob metadata in PostgreSQL): store ${storeSize}, campaigns ${smallSize} and ${largeSize}`);

    // Store: the same recording into an empty store and into a full one.
    const empty = await record(ctx, "probe-empty", probe, 4);
    log(`  recorded ${probe} into an empty store: ${fmt(empty.rate, 0)} images/s`);
    // A store grows by image sets, each its own folder (uploads/<title>/): seeded as sets of SET_SIZE.
    const seeded = await timed(() => recordInSets(ctx, "seed", Math.max(0, storeSize - probe - largeSize - smallSize)));
    const small = (await record(ctx, "small", smallSize, 4)).ids;
    const large = await recordInSets(ctx, "large", largeSize);
    log(`  seeded the store to ${fmt(await ctx.host.services.images.count(), 0)} images in ${fmtMs(seeded.ms)}`);
    const full = await record(ctx, "probe-full", probe, 4);
    log(`  recorded ${probe} into a store of ${fmt(storeSize, 0)}: ${fmt(full.rate, 0)} images/s`);

    const smallRun = await campaignRun(ctx, small, log);
    const largeRun = await campaignRun(ctx, large, log);

    // Export of the large campaign through the API of a fresh `npm start` host on the same storage (this
    // process's host stops taking messages first), whose peak RSS the kernel keeps (VmHWM).
    await ctx.host.stop();
    const host = await startHostProcess(ctx);
    let exported: { value: { counts: { objects: number } }; ms: number };
    let rssPeak: number;
    let rssBefore: number;
    try {
      rssBefore = peakRss(host.pid);
      exported = await timed(async () => {
        const started = await expectCall(host, 202, "POST", `/campaigns/${largeRun.campaignId}/exports`, ctx.admin, { format: "coco", label_status: "all" });
        return pollUntil(
          "export",
          async () => {
            const job = (await call(host, "GET", `/exports/${started.export_id}`, ctx.admin)).body;
            if (job.status === "failed") throw new Error(`export failed: ${job.error}`);
            return job.status === "succeeded" ? job : undefined;
          },
          200,
        );
      });
      rssPeak = peakRss(host.pid);
    } finally {
      await host.stop();
    }

    log("");
    printTable(
      log,
      ["store", "images/s", "ratio"],
      [
        [`record ${probe} into an empty store`, fmt(empty.rate, 0), "1.00"],
        [`record ${probe} into a store of ${fmt(storeSize, 0)}`, fmt(full.rate, 0), fmt(full.rate / empty.rate, 2)],
      ],
    );
    log("");
    printTable(
      log,
      ["campaign", `${smallRun.size}`, `${largeRun.size}`, "ratio large/small"],
      [
        ["add images (images/s)", fmt(smallRun.addRate, 0), fmt(largeRun.addRate, 0), fmt(largeRun.addRate / smallRun.addRate, 2)],
        ["label (images/s, 6 clients)", fmt(smallRun.labelRate, 0), fmt(largeRun.labelRate, 0), fmt(largeRun.labelRate / smallRun.labelRate, 2)],
        ["100-image submission p50", fmtMs(smallRun.p50), fmtMs(largeRun.p50), fmt(largeRun.p50 / smallRun.p50, 2)],
        ["100-image submission p95", fmtMs(smallRun.p95), fmtMs(largeRun.p95), fmt(largeRun.p95 / smallRun.p95, 2)],
        ["last submission -> completed", fmtMs(smallRun.completionLag), fmtMs(largeRun.completionLag), "-"],
        [
          "50 rejected among the first 1,000: page (median)",
          fmtMs(smallRun.rejectedPage),
          fmtMs(largeRun.rejectedPage),
          fmt(largeRun.rejectedPage / smallRun.rejectedPage, 2),
        ],
        [
          "50 test-data spread over it: page (median)",
          fmtMs(smallRun.spreadPage),
          fmtMs(largeRun.spreadPage),
          fmt(largeRun.spreadPage / smallRun.spreadPage, 2),
        ],
        [
          "deepest latest_labels page (median)",
          fmtMs(smallRun.deepLabelsPage),
          fmtMs(largeRun.deepLabelsPage),
          fmt(largeRun.deepLabelsPage / smallRun.deepLabelsPage, 2),
        ],
      ],
    );
    log("");
    printTable(
      log,
      ["export", "value"],
      [
        [`COCO of ${largeRun.size} images x ${OBJECTS_PER_IMAGE} objects`, fmtMs(exported.ms)],
        ["objects exported", fmt(exported.value.counts.objects, 0)],
        ["peak RSS of the host process (VmHWM)", fmtMb(rssPeak)],
        ["its peak RSS before the export", fmtMb(rssBefore)],
      ],
    );
    const errors = ctx.errorLines();
    if (errors.length) log(`host logged ${errors.length} error/retry lines, first: ${errors[0]!.slice(0, 300)}`);
  } finally {
    await ctx.stop();
  }
}

if (isMain(import.meta.url)) runAsScript(runScaleBench);
