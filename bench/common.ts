/**
 * Shared benchmark plumbing: an in-memory Azurite on free ports, the local host (HTTP + queue workers) on a
 * config with its own RESOURCE_PREFIX, the admin user, a JSON `call()` helper, timing and a table printer.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, request } from "node:http";
import { pathToFileURL } from "node:url";
import { startAzurite, type AzuriteProcess } from "../scripts/azurite.js";
import { startLocalHost, type LocalHost } from "../scripts/localHost.js";
import { startPostgres } from "../scripts/postgres.js";
import { azuriteConnectionString, loadConfig, type AppConfig } from "../shared/config.js";

export interface BenchContext {
  azurite: AzuriteProcess;
  host: LocalHost;
  config: AppConfig;
  /** Base URL of the API, e.g. http://127.0.0.1:1234/api/v1 */
  url: string;
  /** Headers of the image-admin user. */
  admin: Record<string, string>;
  /** Host log lines kept for diagnosis (last few thousand); errors also counted. */
  logs: string[];
  errorLines(): string[];
  stop(): Promise<void>;
}

export interface BenchOptions {
  /** Extra app settings (e.g. COPY_CONCURRENCY). */
  settings?: Record<string, string>;
  /** Messages handled at once per queue by the local host's workers (its default is 8). */
  workerConcurrency?: number;
  /** Echo host log lines (also BENCH_LOG=1). */
  verbose?: boolean;
  /**
   * Run Azurite as `npm start` does (data on disk in a temporary folder, blob metadata in PostgreSQL)
   * instead of in memory.
   */
  asLocalStack?: boolean;
}

const KEEP_LOG_LINES = 5000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** Azurite (in memory, free ports) + the local host with workers + the admin user. */
export async function startBench(options: BenchOptions = {}): Promise<BenchContext> {
  const verbose = options.verbose ?? process.env.BENCH_LOG === "1";
  const location = options.asLocalStack ? await mkdtemp(join(tmpdir(), "bench-azurite-")) : undefined;
  const postgres = location ? await startPostgres({ location, port: await freePort() }) : undefined;
  const azurite = await startAzurite(location ? { blobPort: 0, location, blobDatabase: postgres!.url } : { blobPort: 0, inMemory: true });
  const logs: string[] = [];
  const errors: string[] = [];
  const log = (line: string): void => {
    if (verbose) console.log(line);
    logs.push(line);
    if (logs.length > KEEP_LOG_LINES * 2) logs.splice(0, logs.length - KEEP_LOG_LINES);
    if (/\[error\]|"level":"error"|dead-lettered|failed/i.test(line) && errors.length < 1000) errors.push(line);
  };
  try {
    const config = loadConfig({
      STORAGE_CONNECTION_STRING: azuriteConnectionString("127.0.0.1", azurite.blobPort, azurite.queuePort, azurite.tablePort),
      RESOURCE_PREFIX: `b${randomBytes(4).toString("hex")}`,
      LOCAL_ADMIN_KEY: "bench-admin-key",
      LOCAL_ADMIN_SECRET: "bench-admin-secret",
      PORT: "0",
      ...options.settings,
    });
    const host = await startLocalHost({ config, workers: true, workerConcurrency: options.workerConcurrency, log });
    const { LOCAL_ADMIN_KEY, LOCAL_ADMIN_SECRET } = config.settings;
    await host.services.users.putUser(LOCAL_ADMIN_KEY, LOCAL_ADMIN_SECRET, "image-admin", "admin@bench.example");
    return {
      azurite,
      host,
      config,
      url: host.url,
      admin: { "Authentication-Key": LOCAL_ADMIN_KEY, "Authentication-Secret": LOCAL_ADMIN_SECRET },
      logs,
      errorLines: () => [...errors],
      async stop() {
        try {
          await host.stop();
        } finally {
          await azurite.stop();
          await postgres?.stop();
          if (location) await rm(location, { recursive: true, force: true });
        }
      },
    };
  } catch (error) {
    await azurite.stop();
    await postgres?.stop();
    throw error;
  }
}

export interface CallResult {
  status: number;
  body: any;
}

/** Keep-alive connections for `call`; node:http has no response timeout (fetch gives up after 300 s without headers). */
const agent = new Agent({ keepAlive: true });

/** JSON request against the API: status and parsed body (or text). Waits as long as the server takes. */
export async function call(ctx: Pick<BenchContext, "url">, method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<CallResult> {
  const payload = body === undefined ? undefined : Buffer.from(typeof body === "string" ? body : JSON.stringify(body));
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(
      `${ctx.url}${path}`,
      {
        method,
        agent,
        headers: { ...headers, ...(payload ? { "Content-Type": "application/json", "Content-Length": String(payload.length) } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status, body: parsed };
}

/** Like `call`, but throws unless the status is the expected one. */
export async function expectCall(
  ctx: Pick<BenchContext, "url">,
  expected: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<any> {
  const result = await call(ctx, method, path, headers, body);
  if (result.status !== expected) {
    throw new Error(`${method} ${path} answered ${result.status} (expected ${expected}): ${JSON.stringify(result.body).slice(0, 500)}`);
  }
  return result.body;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` every `intervalMs` until it returns a value; throws after `timeoutMs`. */
export async function pollUntil<T>(what: string, probe: () => Promise<T | undefined | false>, intervalMs = 100, timeoutMs = 10 * 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** High-resolution wall clock in milliseconds. */
export const now = (): number => performance.now();

/** Runs `fn` and returns its result with the elapsed milliseconds. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = now();
  const value = await fn();
  return { value, ms: now() - start };
}

/** Items per second. */
export const perSecond = (count: number, ms: number): number => (ms > 0 ? (count * 1000) / ms : 0);

/** Percentile (0-100) of a list of numbers, nearest-rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Fixed-point number with thousands separators. */
export function fmt(value: number, digits = 1): string {
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export const fmtMs = (ms: number): string => (ms >= 10_000 ? `${fmt(ms / 1000, 1)} s` : `${fmt(ms, 0)} ms`);
export const fmtMb = (bytes: number): string => `${fmt(bytes / (1024 * 1024), 1)} MB`;

/** A plain-text table: first column left-aligned, the rest right-aligned. */
export function printTable(log: (line: string) => void, headers: string[], rows: string[][]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  log(line(headers));
  log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const row of rows) log(line(row));
}

/** A positive integer from the environment, or the default. */
export function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return value;
}

/** Whether the module with this `import.meta.url` is the script being run (`npx tsx bench/x.ts`). */
export function isMain(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === moduleUrl;
}

/** Runs a bench as a script: prints to stdout, exits non-zero on failure. */
export function runAsScript(bench: (log: (line: string) => void) => Promise<void>): void {
  bench((line) => console.log(line)).then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error instanceof Error ? (error.stack ?? error.message) : error);
      process.exit(1);
    },
  );
}
