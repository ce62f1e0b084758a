/**
 * Client side of the export API, used by `npm run export` (cli/export.ts): lists campaigns, starts one
 * export per campaign, polls it, and streams the finished file to disk. Everything that touches the
 * network or time goes through an injected `fetch` and `Clock`, so tests can drive it against a local
 * server with virtual time. The formats, mask modes, label-status filters and job statuses are the
 * API's own definitions, imported from the server's library, so the two cannot drift apart.
 */
import { createWriteStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as delay } from "node:timers/promises";
import { z } from "zod";
import { labelStatusFilterSchema, type JobFormat, type LabelStatusFilter } from "../shared/domain/exports.js";
import { exportFileExtension } from "../shared/export/formats/index.js";
import type { GtMode } from "../shared/masks/modes.js";
import { EXPORT_STATUSES } from "../shared/repos/exports.js";

// ---------------------------------------------------------------------------------------------
// Contract types (as served by the API; unknown fields are ignored)

/** What `EXPORT_STATUS` accepts: seed 004's `complete`/`all`, plus the API's own label-status filters. */
export const STATUS_OPTIONS = ["complete", ...labelStatusFilterSchema.options] as const;
export type StatusOption = (typeof STATUS_OPTIONS)[number];

const countPair = z.object({ done: z.number(), total: z.number() });

const campaignSchema = z.object({
  campaign_id: z.number().int(),
  title: z.string(),
  status: z.string().optional(),
  progress: countPair.optional(),
});
export type Campaign = z.infer<typeof campaignSchema>;

const campaignPageSchema = z.object({
  campaigns: z.array(campaignSchema),
  pagination: z.object({ page: z.number(), pages: z.number(), next: z.number().nullable() }),
});

const exportJobSchema = z.object({
  export_id: z.string().min(1),
  campaign_id: z.number().int(),
  format: z.string(),
  status: z.enum(EXPORT_STATUSES),
  progress: countPair,
  counts: z.object({ images: z.number(), objects: z.number() }),
  warnings: z.array(z.string()).default([]),
  warning_count: z.number().default(0),
  download_url: z.string().nullable().default(null),
  error: z.string().nullable().default(null),
});
export type ExportJob = z.infer<typeof exportJobSchema>;

/** `POST /campaigns/{id}/exports` body. */
export interface ExportRequestBody {
  format: JobFormat;
  label_status: LabelStatusFilter;
  test_data?: boolean;
  start?: string;
  end?: string;
  last_activity_start?: string;
  last_activity_end?: string;
  output_folder?: string;
  suffix?: string;
  gt_mode?: GtMode;
}

// ---------------------------------------------------------------------------------------------
// Typed errors

/** The API answered with an error status (body `{status, detail}`). */
export class ExportApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly method: string,
    readonly path: string,
  ) {
    super(`${method} ${path} -> ${status}: ${detail}`);
    this.name = "ExportApiError";
  }
  /** Worth asking again (server trouble or throttling) rather than giving up. */
  get transient(): boolean {
    return this.status >= 500 || this.status === 429 || this.status === 408;
  }
}

/** No HTTP answer at all: connection refused, reset, DNS, request timeout. */
export class ExportNetworkError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ExportNetworkError";
  }
}

/** The API answered 2xx with a body that does not match the contract. */
export class ExportProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ExportProtocolError";
  }
}

/** The server reports the export job as failed. */
export class ExportJobFailedError extends Error {
  constructor(
    readonly exportId: string,
    readonly reason: string,
  ) {
    super(`export ${exportId} failed: ${reason}`);
    this.name = "ExportJobFailedError";
  }
}

/** The export did not finish within the per-export timeout; it may still finish on the server. */
export class ExportTimeoutError extends Error {
  constructor(
    readonly exportId: string,
    readonly seconds: number,
    readonly lastStatus: string,
  ) {
    super(`timed out after ${seconds}s (export ${exportId} still ${lastStatus} on the server; GET /exports/${exportId} later for its download_url)`);
    this.name = "ExportTimeoutError";
  }
}

/** Fetching the file from its download_url failed. */
export class ExportDownloadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ExportDownloadError";
  }
}

/** The run was interrupted (Ctrl-C). */
export class ExportCancelledError extends Error {
  constructor() {
    super("cancelled");
    this.name = "ExportCancelledError";
  }
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));
const isTransient = (error: unknown) => (error instanceof ExportApiError && error.transient) || error instanceof ExportNetworkError;

// ---------------------------------------------------------------------------------------------
// Pure helpers

/** `complete` (seed 004: finished, approved work) is the API's `admin_complete`; the API values pass through. */
export function labelStatusFor(status: StatusOption): LabelStatusFilter {
  return status === "complete" ? "admin_complete" : status;
}

/** `all` (or empty) selects every campaign; otherwise comma-separated campaign ids or titles. */
export function parseCampaignSelection(value: string | undefined): "all" | string[] {
  const tokens = (value ?? "")
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
  if (tokens.length === 0 || (tokens.length === 1 && tokens[0]!.toLowerCase() === "all")) return "all";
  return [...new Set(tokens)];
}

/**
 * Picks the selected campaigns from the full list, in the order asked. A token matches a campaign id
 * first, then a title; tokens that match nothing are returned as `missing`.
 */
export function selectCampaigns(all: Campaign[], selection: "all" | string[]): { campaigns: Campaign[]; missing: string[] } {
  if (selection === "all") return { campaigns: all, missing: [] };
  const campaigns: Campaign[] = [];
  const missing: string[] = [];
  for (const token of selection) {
    const found = (/^\d+$/.test(token) ? all.find((c) => c.campaign_id === Number(token)) : undefined) ?? all.find((c) => c.title === token);
    if (!found) missing.push(token);
    else if (!campaigns.includes(found)) campaigns.push(found);
  }
  return { campaigns, missing };
}

/** Keeps a file name portable: anything but letters, digits, `.`, `_` and `-` becomes `_`. */
export function safeFileName(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^[.]+/, "_");
  return cleaned.slice(0, 200) || "campaign";
}

/** The file's extension: taken from the download URL's path when it has a known one, else from the format (masks come zipped). */
export function fileExtension(downloadUrl: string | null, format: JobFormat): string {
  if (downloadUrl) {
    try {
      const match = /\.(csv|json|zip)$/i.exec(decodeURIComponent(new URL(downloadUrl).pathname));
      if (match) return `.${match[1]!.toLowerCase()}`;
    } catch {
      // Not a URL we can parse: fall back to the format.
    }
  }
  return format === "masks" ? ".zip" : exportFileExtension(format);
}

/** `<campaign title>_<export_id><ext>`. */
export function outputFileName(title: string, exportId: string, extension: string): string {
  return `${safeFileName(title)}_${safeFileName(exportId)}${extension}`;
}

/** The mask output folder of one campaign: `{title}` / `{campaign_id}` substituted; without either, `/<title>` is appended so campaigns never share a folder. */
export function maskFolderFor(template: string, campaign: Campaign): string {
  const folder = template.replace(/^\/+|\/+$/g, "");
  if (!/\{(title|campaign_id)\}/.test(folder)) return `${folder}/${campaign.title}`;
  return folder.replaceAll("{title}", campaign.title).replaceAll("{campaign_id}", String(campaign.campaign_id));
}

export interface ExportFilters {
  labelStatus: LabelStatusFilter;
  testData?: boolean;
  start?: string;
  end?: string;
  lastActivityStart?: string;
  lastActivityEnd?: string;
}

export interface MaskSettings {
  /** Blob prefix template for rendered masks; see `maskFolderFor`. */
  folder: string;
  gtMode: GtMode;
  suffix?: string;
}

/** The POST body for one campaign; filters left unset are not sent. */
export function exportRequestBody(format: JobFormat, filters: ExportFilters, campaign: Campaign, masks?: MaskSettings): ExportRequestBody {
  const body: ExportRequestBody = { format, label_status: filters.labelStatus };
  if (filters.testData !== undefined) body.test_data = filters.testData;
  if (filters.start) body.start = filters.start;
  if (filters.end) body.end = filters.end;
  if (filters.lastActivityStart) body.last_activity_start = filters.lastActivityStart;
  if (filters.lastActivityEnd) body.last_activity_end = filters.lastActivityEnd;
  if (format === "masks" && masks) {
    body.output_folder = maskFolderFor(masks.folder, campaign);
    body.gt_mode = masks.gtMode;
    if (masks.suffix !== undefined) body.suffix = masks.suffix;
  }
  return body;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** One progress line for a running export, e.g. `running 40/100 (40%) 12s`. */
export function progressText(job: Pick<ExportJob, "status" | "progress">, elapsedMs: number): string {
  const { done, total } = job.progress;
  const counts = total > 0 ? ` ${done}/${total} (${Math.floor((done / total) * 100)}%)` : "";
  return `${job.status}${counts} ${Math.round(elapsedMs / 1000)}s`;
}

export type Outcome = "downloaded" | "skipped" | "failed" | "timed_out" | "cancelled";

export interface CampaignResult {
  /** Null when the selection named a campaign that does not exist. */
  campaignId: number | null;
  title: string;
  outcome: Outcome;
  exportId?: string;
  file?: string;
  bytes?: number;
  counts?: { images: number; objects: number };
  warningCount?: number;
  error?: string;
  elapsedMs: number;
}

/** 0 when every campaign was downloaded or skipped; 1 when any failed, timed out or was cancelled. */
export function exitCodeFor(results: CampaignResult[]): 0 | 1 {
  return results.every((r) => r.outcome === "downloaded" || r.outcome === "skipped") ? 0 : 1;
}

/** The closing summary: one count line, then one line per campaign that did not go well. */
export function summaryLines(results: CampaignResult[]): string[] {
  const count = (o: Outcome) => results.filter((r) => r.outcome === o).length;
  const parts = [`${count("downloaded")} downloaded`, `${count("skipped")} skipped`, `${count("failed")} failed`, `${count("timed_out")} timed out`];
  if (count("cancelled")) parts.push(`${count("cancelled")} cancelled`);
  const bytes = results.reduce((sum, r) => sum + (r.bytes ?? 0), 0);
  const lines = [`Summary: ${parts.join(", ")} (${plural(results.length, "campaign")}, ${formatBytes(bytes)} written)`];
  for (const r of results) {
    if (r.outcome === "failed" || r.outcome === "timed_out" || r.outcome === "cancelled") {
      lines.push(`  ${r.outcome.replace("_", " ")}: ${describeCampaign(r.title, r.campaignId)}: ${r.error ?? ""}`.trimEnd());
    }
  }
  return lines;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
const describeCampaign = (title: string, id: number | null) => (id === null ? title : `${title} (#${id})`);

// ---------------------------------------------------------------------------------------------
// Output: permanent lines plus one updating status line

export interface TextStream {
  write(text: string): unknown;
  isTTY?: boolean;
  /** Terminal width; a longer status line is cut so that `\r` can still rewrite it. */
  columns?: number;
}

export interface ExportOutput {
  /** A permanent line. */
  line(text: string): void;
  /** The current progress; replaces the previous status on a TTY. */
  status(text: string): void;
}

/**
 * On a TTY the status is one line rewritten in place (`\r` + erase to end of line); elsewhere (pipes,
 * CI logs) each status is a plain line, printed only when it changed.
 */
export class TerminalOutput implements ExportOutput {
  private statusShown = false;
  private lastStatus: string | undefined;

  constructor(private readonly stream: TextStream) {}

  private get tty(): boolean {
    return this.stream.isTTY === true;
  }

  line(text: string): void {
    if (this.tty && this.statusShown) this.stream.write("\r\x1b[K");
    this.statusShown = false;
    this.lastStatus = undefined;
    this.stream.write(`${text}\n`);
  }

  status(text: string): void {
    if (text === this.lastStatus) return;
    this.lastStatus = text;
    if (this.tty) {
      const width = this.stream.columns ?? 0;
      this.stream.write(`\r\x1b[K${width > 1 && text.length >= width ? `${text.slice(0, width - 2)}…` : text}`);
      this.statusShown = true;
    } else {
      this.stream.write(`${text}\n`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The client

export interface Clock {
  now(): number;
  /** Waits `ms`; rejects when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => {
    await delay(ms, undefined, signal ? { signal } : undefined);
  },
};

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface ExportClientOptions {
  /** API base including the version, e.g. `http://localhost:7071/api/v1`. */
  apiUrl: string;
  key: string;
  secret: string;
  fetch?: FetchLike;
  clock?: Clock;
  /** Limit on each API request, and on a download going quiet (no bytes for this long). Default 60 s. */
  requestTimeoutMs?: number;
}

export interface ExportRunOptions {
  campaigns: "all" | string[];
  format: JobFormat;
  filters: ExportFilters;
  masks?: MaskSettings;
  outDir: string;
  /** Per export: from the POST until it succeeded or failed (the download is not counted). */
  timeoutMs: number;
  pollMs: number;
  signal?: AbortSignal;
}

const PAGE_SIZE = 100;
const DOWNLOAD_ATTEMPTS = 2;

export class ExportClient {
  private readonly base: string;
  private readonly fetch: FetchLike;
  private readonly clock: Clock;
  private readonly requestTimeoutMs: number;

  constructor(private readonly options: ExportClientOptions) {
    this.base = options.apiUrl.replace(/\/+$/, "");
    this.fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.clock = options.clock ?? systemClock;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 60_000;
  }

  /** One authenticated JSON call; non-2xx answers become `ExportApiError` with the contract's `detail`. */
  private async request(method: "GET" | "POST", path: string, body?: unknown, signal?: AbortSignal): Promise<unknown> {
    const timeout = AbortSignal.timeout(this.requestTimeoutMs);
    let response: Response;
    try {
      response = await this.fetch(`${this.base}${path}`, {
        method,
        headers: {
          "Authentication-Key": this.options.key,
          "Authentication-Secret": this.options.secret,
          accept: "application/json",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (error) {
      if (signal?.aborted) throw new ExportCancelledError();
      const reason = timeout.aborted ? `no answer within ${this.requestTimeoutMs / 1000}s` : causeMessage(error);
      throw new ExportNetworkError(`${method} ${this.base}${path}: ${reason}`, { cause: error });
    }
    const text = await response.text().catch(() => "");
    if (!response.ok) throw new ExportApiError(response.status, errorDetail(text, response.statusText), method, path);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new ExportProtocolError(`${method} ${path}: answer is not JSON`);
    }
  }

  private parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
    const result = schema.safeParse(value);
    if (!result.success) {
      const issue = result.error.issues[0];
      throw new ExportProtocolError(`unexpected ${what} from the API${issue ? ` (${issue.path.join(".") || "body"}: ${issue.message})` : ""}`);
    }
    return result.data;
  }

  /** Every campaign, following `pagination.next`. */
  async listCampaigns(signal?: AbortSignal): Promise<Campaign[]> {
    const campaigns: Campaign[] = [];
    let page: number | null = 1;
    for (let guard = 0; page !== null && guard < 100_000; guard++) {
      const body: z.infer<typeof campaignPageSchema> = this.parse(
        campaignPageSchema,
        await this.request("GET", `/campaigns?page=${page}&per_page=${PAGE_SIZE}`, undefined, signal),
        "campaign list",
      );
      campaigns.push(...body.campaigns);
      page = body.pagination.next !== null && body.pagination.next > page ? body.pagination.next : null;
    }
    return campaigns;
  }

  async startExport(campaignId: number, body: ExportRequestBody, signal?: AbortSignal): Promise<ExportJob> {
    return this.parse(exportJobSchema, await this.request("POST", `/campaigns/${campaignId}/exports`, body, signal), "export");
  }

  async getExport(exportId: string, signal?: AbortSignal): Promise<ExportJob> {
    return this.parse(exportJobSchema, await this.request("GET", `/exports/${encodeURIComponent(exportId)}`, undefined, signal), "export");
  }

  /**
   * Polls until the job succeeds (returned) or fails (`ExportJobFailedError`), or `deadline` passes
   * (`ExportTimeoutError`). Transient errors while polling are reported and polled through.
   */
  async waitForExport(
    job: ExportJob,
    {
      deadline,
      pollMs,
      timeoutSeconds,
      signal,
      onUpdate,
    }: { deadline: number; pollMs: number; timeoutSeconds: number; signal?: AbortSignal; onUpdate: (job: ExportJob, note?: string) => void },
  ): Promise<ExportJob> {
    let current = job;
    while (current.status === "queued" || current.status === "running") {
      const left = deadline - this.clock.now();
      if (left <= 0) throw new ExportTimeoutError(current.export_id, timeoutSeconds, current.status);
      await this.sleep(Math.min(pollMs, left), signal);
      try {
        current = await this.getExport(current.export_id, signal);
        onUpdate(current);
      } catch (error) {
        if (!isTransient(error)) throw error;
        onUpdate(current, `retrying: ${messageOf(error)}`);
      }
    }
    if (current.status === "failed") throw new ExportJobFailedError(current.export_id, current.error ?? "no reason given");
    return current;
  }

  private async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    try {
      await this.clock.sleep(ms, signal);
    } catch (error) {
      if (signal?.aborted) throw new ExportCancelledError();
      throw error;
    }
  }

  /**
   * Streams `url` to `path` (via `<path>.part`, renamed when complete, so a broken download never
   * looks finished). No API credentials are sent: the URL carries its own SAS.
   */
  async download(url: string, path: string, signal?: AbortSignal): Promise<number> {
    const idle = new AbortController();
    const abort = signal ? AbortSignal.any([signal, idle.signal]) : idle.signal;
    const idleMs = this.requestTimeoutMs;
    let timer = setTimeout(() => idle.abort(), idleMs);
    const touch = () => {
      clearTimeout(timer);
      timer = setTimeout(() => idle.abort(), idleMs);
    };
    const part = `${path}.part`;
    let bytes = 0;
    try {
      let response: Response;
      try {
        response = await this.fetch(url, { method: "GET", signal: abort });
      } catch (error) {
        throw new ExportDownloadError(`download: ${idle.signal.aborted ? `no answer within ${idleMs / 1000}s` : causeMessage(error)}`, { cause: error });
      }
      if (!response.ok || !response.body) {
        await response.body?.cancel().catch(() => undefined);
        throw new ExportDownloadError(`download: HTTP ${response.status} ${response.statusText}`.trimEnd());
      }
      const source = Readable.fromWeb(response.body as import("node:stream/web").ReadableStream<Uint8Array>);
      const count = async function* (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          bytes += chunk.length;
          touch();
          yield chunk;
        }
      };
      try {
        await pipeline(source, count, createWriteStream(part), { signal: abort });
      } catch (error) {
        if (signal?.aborted) throw new ExportCancelledError();
        throw new ExportDownloadError(`download: ${idle.signal.aborted ? `stalled for ${idleMs / 1000}s` : causeMessage(error)}`, { cause: error });
      }
      await rename(part, path);
      return bytes;
    } catch (error) {
      await rm(part, { force: true });
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Start, wait, download (or skip) one campaign's export; never throws except on cancel. */
  async exportCampaign(campaign: Campaign, options: ExportRunOptions, output: ExportOutput, label: string): Promise<CampaignResult> {
    const started = this.clock.now();
    const base = { campaignId: campaign.campaign_id, title: campaign.title };
    const elapsed = () => this.clock.now() - started;
    let job: ExportJob | undefined;
    try {
      job = await this.startExport(campaign.campaign_id, exportRequestBody(options.format, options.filters, campaign, options.masks), options.signal);
      output.line(`${label} export ${job.export_id} ${job.status}`);
      const show = (j: ExportJob, note?: string) => output.status(`${label} ${progressText(j, elapsed())}${note ? ` (${note})` : ""}`);
      show(job);
      job = await this.waitForExport(job, {
        deadline: started + options.timeoutMs,
        pollMs: options.pollMs,
        timeoutSeconds: Math.round(options.timeoutMs / 1000),
        ...(options.signal ? { signal: options.signal } : {}),
        onUpdate: (j, note) => {
          job = j;
          show(j, note);
        },
      });
      const counts = { images: job.counts.images, objects: job.counts.objects };
      const summary = { ...base, exportId: job.export_id, counts, warningCount: job.warning_count };
      if (counts.images === 0) {
        output.line(`${label} skipped: nothing to export (no images match label_status ${options.filters.labelStatus}${filtersNote(options.filters)})`);
        return { ...summary, outcome: "skipped", elapsedMs: elapsed() };
      }
      const { file, bytes } = await this.fetchFile(job, campaign.title, options, output, label);
      const warnings = job.warning_count ? `, ${plural(job.warning_count, "warning")}` : "";
      output.line(`${label} downloaded ${file} (${formatBytes(bytes)}; ${plural(counts.images, "image")}, ${plural(counts.objects, "object")}${warnings})`);
      for (const w of job.warnings.slice(0, 3)) output.line(`${label}   warning: ${w}`);
      if (job.warning_count > 3) output.line(`${label}   ... ${job.warning_count - 3} more warnings (see the export's warnings)`);
      return { ...summary, outcome: "downloaded", file, bytes, elapsedMs: elapsed() };
    } catch (error) {
      if (error instanceof ExportCancelledError) throw error;
      const outcome: Outcome = error instanceof ExportTimeoutError ? "timed_out" : "failed";
      output.line(`${label} ${outcome === "timed_out" ? "timed out" : "failed"}: ${messageOf(error)}`);
      return { ...base, ...(job ? { exportId: job.export_id } : {}), outcome, error: messageOf(error), elapsedMs: elapsed() };
    }
  }

  /** Downloads the job's file; if the first attempt fails (e.g. an expired SAS), asks for a fresh download_url once. */
  private async fetchFile(
    job: ExportJob,
    title: string,
    options: ExportRunOptions,
    output: ExportOutput,
    label: string,
  ): Promise<{ file: string; bytes: number }> {
    let current = job;
    await mkdir(options.outDir, { recursive: true });
    for (let attempt = 1; ; attempt++) {
      if (!current.download_url) throw new ExportProtocolError(`export ${current.export_id} succeeded without a download_url`);
      const file = join(options.outDir, outputFileName(title, current.export_id, fileExtension(current.download_url, options.format)));
      output.status(`${label} downloading ${file}`);
      try {
        return { file, bytes: await this.download(current.download_url, file, options.signal) };
      } catch (error) {
        if (error instanceof ExportCancelledError || attempt >= DOWNLOAD_ATTEMPTS) throw error;
        output.line(`${label} ${messageOf(error)}; asking for a fresh download_url`);
        current = await this.getExport(current.export_id, options.signal);
      }
    }
  }

  /** The whole run: resolve the selection, then export campaign after campaign. Failures are recorded, not thrown. */
  async run(options: ExportRunOptions, output: ExportOutput): Promise<CampaignResult[]> {
    const all = await this.listCampaigns(options.signal);
    const { campaigns, missing } = selectCampaigns(all, options.campaigns);
    const results: CampaignResult[] = missing.map((token) => ({
      campaignId: null,
      title: token,
      outcome: "failed" as const,
      error: `no campaign with id or title ${JSON.stringify(token)}`,
      elapsedMs: 0,
    }));
    for (const r of results) output.line(`${r.title}: failed: ${r.error}`);
    const filters = `label_status ${options.filters.labelStatus}${filtersNote(options.filters)}`;
    output.line(`Exporting ${plural(campaigns.length, "campaign")} as ${options.format} (${filters}) to ${options.outDir}`);
    for (const [i, campaign] of campaigns.entries()) {
      const label = `[${i + 1}/${campaigns.length}] ${describeCampaign(campaign.title, campaign.campaign_id)}:`;
      if (options.signal?.aborted) {
        results.push({ campaignId: campaign.campaign_id, title: campaign.title, outcome: "cancelled", error: "not started", elapsedMs: 0 });
        continue;
      }
      try {
        results.push(await this.exportCampaign(campaign, options, output, label));
      } catch (error) {
        if (!(error instanceof ExportCancelledError)) throw error;
        output.line(`${label} cancelled`);
        results.push({ campaignId: campaign.campaign_id, title: campaign.title, outcome: "cancelled", error: "interrupted", elapsedMs: 0 });
      }
    }
    return results;
  }
}

function filtersNote(filters: ExportFilters): string {
  const parts: string[] = [];
  if (filters.testData !== undefined) parts.push(`test_data ${filters.testData}`);
  if (filters.start) parts.push(`start ${filters.start}`);
  if (filters.end) parts.push(`end ${filters.end}`);
  if (filters.lastActivityStart) parts.push(`last_activity_start ${filters.lastActivityStart}`);
  if (filters.lastActivityEnd) parts.push(`last_activity_end ${filters.lastActivityEnd}`);
  return parts.length ? `, ${parts.join(", ")}` : "";
}

/** The contract's `{detail}`, else the raw text (shortened), else the status text. */
function errorDetail(text: string, statusText: string): string {
  try {
    const body = JSON.parse(text) as { detail?: unknown };
    if (typeof body.detail === "string" && body.detail) return body.detail;
  } catch {
    // Not JSON.
  }
  const trimmed = text.trim();
  return trimmed ? trimmed.slice(0, 300) : statusText || "no detail";
}

/** fetch() wraps the useful reason (ECONNREFUSED, ...) in `cause`. */
function causeMessage(error: unknown): string {
  const cause = error instanceof Error ? (error.cause as { code?: string; message?: string } | undefined) : undefined;
  if (cause?.code) return `${messageOf(error)} (${cause.code})`;
  if (cause?.message) return `${messageOf(error)} (${cause.message})`;
  return messageOf(error);
}
