/**
 * `npm run export -- [options]`: batch export of labeled campaigns (seed 004) through the async export
 * API (seed 003). Settings come from environment variables; each has a flag that overrides it. The
 * work is done by cli/exportClient.ts; this file only parses, calls and prints. See docs/export-cli.md.
 */
import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { z } from "zod";
import { JOB_FORMATS } from "../shared/domain/exports.js";
import { GT_MODES } from "../shared/masks/modes.js";
import {
  ExportClient,
  STATUS_OPTIONS,
  TerminalOutput,
  exitCodeFor,
  labelStatusFor,
  parseCampaignSelection,
  summaryLines,
  type Clock,
  type ExportRunOptions,
  type FetchLike,
  type TextStream,
} from "./exportClient.js";

/** Flag name -> the environment variable it overrides, in the order `--help` lists them. */
export const FLAGS = {
  "api-url": "LABEL_API_URL",
  key: "LABEL_API_KEY",
  secret: "LABEL_API_SECRET",
  campaigns: "EXPORT_CAMPAIGNS",
  status: "EXPORT_STATUS",
  format: "EXPORT_FORMAT",
  out: "EXPORT_OUT",
  timeout: "EXPORT_TIMEOUT",
  "poll-ms": "EXPORT_POLL_MS",
  "request-timeout": "EXPORT_REQUEST_TIMEOUT",
  "test-data": "EXPORT_TEST_DATA",
  start: "EXPORT_START",
  end: "EXPORT_END",
  "activity-start": "EXPORT_LAST_ACTIVITY_START",
  "activity-end": "EXPORT_LAST_ACTIVITY_END",
  "mask-folder": "EXPORT_MASK_FOLDER",
  "gt-mode": "EXPORT_GT_MODE",
  "mask-suffix": "EXPORT_MASK_SUFFIX",
} as const;
type EnvName = (typeof FLAGS)[keyof typeof FLAGS];

export const USAGE = `Usage: npm run export -- [options]

Exports labeled campaigns through the label API: starts one export per campaign, waits for it,
and downloads the file to <out>/<campaign title>_<export_id><.csv|.json|.zip>.
Every option can also be set by the environment variable shown; a flag wins over its variable.

  --api-url URL          LABEL_API_URL          API base incl. version (default http://localhost:7071/api/v1)
  --key KEY              LABEL_API_KEY          Authentication-Key (required)
  --secret SECRET        LABEL_API_SECRET       Authentication-Secret (required; prefer the variable)
  --campaigns LIST       EXPORT_CAMPAIGNS       comma-separated campaign ids or titles, or "all" (default all)
  --status STATUS        EXPORT_STATUS          ${STATUS_OPTIONS.join(" | ")} (default complete = admin_complete)
  --format FORMAT        EXPORT_FORMAT          ${JOB_FORMATS.join(" | ")} (default json)
  --out DIR              EXPORT_OUT             output folder (default ./exports)
  --timeout SECONDS      EXPORT_TIMEOUT         per export, until the server finishes it (default 600)
  --poll-ms MS           EXPORT_POLL_MS         status poll interval (default 2000)
  --request-timeout S    EXPORT_REQUEST_TIMEOUT per API request, and download stall limit (default 60)
  --test-data BOOL       EXPORT_TEST_DATA       true: only test images, false: only training images (default both)
  --start DATE           EXPORT_START           first labeled on/after DATE (YYYY-MM-DD or "YYYY-MM-DD hh:mm:ss", UTC)
  --end DATE             EXPORT_END             first labeled on/before DATE
  --activity-start DATE  EXPORT_LAST_ACTIVITY_START  last activity on/after DATE
  --activity-end DATE    EXPORT_LAST_ACTIVITY_END    last activity on/before DATE
  --mask-folder PREFIX   EXPORT_MASK_FOLDER     masks only: blob prefix, {title}/{campaign_id} substituted (default masks/{title})
  --gt-mode MODE         EXPORT_GT_MODE         masks only (required): ${GT_MODES.join(" | ")}
  --mask-suffix SUFFIX   EXPORT_MASK_SUFFIX     masks only: mask file suffix (server default _gt)
  -h, --help                                    this text

Exit status: 0 every campaign downloaded or skipped (nothing to export), 1 any failed or timed out,
2 bad options, 130 interrupted.

Examples:
  LABEL_API_KEY=... LABEL_API_SECRET=... npm run export
  npm run export -- --campaigns 12,street-signs --format coco --out ./coco
  EXPORT_STATUS=all EXPORT_FORMAT=csv npm run export
`;

/** Bad flags or settings: printed with the usage hint, exit status 2. */
export class CliUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CliUsageError";
  }
}

/** Empty strings count as unset, so `EXPORT_FORMAT= npm run export` means the default. */
const optional = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (typeof v === "string" && v.trim() === "" ? undefined : v), schema.optional());
const withDefault = <T extends z.ZodType>(schema: T, value: z.input<T>) =>
  z.preprocess((v) => (v === undefined || (typeof v === "string" && v.trim() === "") ? value : v), schema);
const date = z
  .string()
  .trim()
  .regex(/^\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}:\d{2})?$/, 'dates are YYYY-MM-DD or "YYYY-MM-DD hh:mm:ss" (UTC)');
const seconds = (def: number, max: number) => withDefault(z.coerce.number().int().min(1).max(max), def);

export const settingsSchema = z
  .object({
    LABEL_API_URL: withDefault(
      z
        .string()
        .trim()
        .url("must be an http(s) URL")
        .regex(/^https?:\/\//i, "must be an http(s) URL"),
      "http://localhost:7071/api/v1",
    ),
    LABEL_API_KEY: z.string({ error: "is required" }).trim().min(1, "is required"),
    LABEL_API_SECRET: z.string({ error: "is required" }).trim().min(1, "is required"),
    EXPORT_CAMPAIGNS: withDefault(z.string(), "all").transform(parseCampaignSelection),
    EXPORT_STATUS: withDefault(z.enum(STATUS_OPTIONS), "complete"),
    EXPORT_FORMAT: withDefault(z.enum(JOB_FORMATS), "json"),
    EXPORT_OUT: withDefault(z.string(), "./exports"),
    EXPORT_TIMEOUT: seconds(600, 7 * 24 * 3600),
    EXPORT_POLL_MS: withDefault(z.coerce.number().int().min(100).max(600_000), 2000),
    EXPORT_REQUEST_TIMEOUT: seconds(60, 3600),
    EXPORT_TEST_DATA: optional(z.enum(["true", "false"]).transform((v) => v === "true")),
    EXPORT_START: optional(date),
    EXPORT_END: optional(date),
    EXPORT_LAST_ACTIVITY_START: optional(date),
    EXPORT_LAST_ACTIVITY_END: optional(date),
    EXPORT_MASK_FOLDER: withDefault(z.string().trim().min(1), "masks/{title}"),
    EXPORT_GT_MODE: optional(z.enum(GT_MODES)),
    EXPORT_MASK_SUFFIX: optional(z.string().regex(/^[A-Za-z0-9._-]{0,64}$/, "letters, digits, '.', '_' and '-' only")),
  })
  .superRefine((s, ctx) => {
    if (s.EXPORT_FORMAT === "masks" && !s.EXPORT_GT_MODE) ctx.addIssue({ code: "custom", path: ["EXPORT_GT_MODE"], message: "is required with format masks" });
  });
export type CliSettings = z.output<typeof settingsSchema>;

const flagOf = (env: string) => Object.entries(FLAGS).find(([, name]) => name === env)?.[0];

/** Flags over environment, validated. Returns undefined for `--help`. */
export function parseCliOptions(argv: string[], env: Record<string, string | undefined>): CliSettings | undefined {
  let values: Record<string, string | boolean | undefined>;
  try {
    const options = Object.fromEntries(Object.keys(FLAGS).map((flag) => [flag, { type: "string" as const }]));
    ({ values } = parseArgs({ args: argv, options: { ...options, help: { type: "boolean", short: "h" } }, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new CliUsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help) return undefined;
  const raw: Partial<Record<EnvName, string>> = {};
  for (const [flag, name] of Object.entries(FLAGS) as [string, EnvName][]) {
    const value = values[flag] ?? env[name];
    if (typeof value === "string") raw[name] = value;
  }
  const parsed = settingsSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? "");
      return `${name} (--${flagOf(name) ?? "?"}): ${issue.message}`;
    });
    throw new CliUsageError(lines.join("\n"));
  }
  return parsed.data;
}

export function runOptionsFrom(settings: CliSettings, signal?: AbortSignal): ExportRunOptions {
  return {
    campaigns: settings.EXPORT_CAMPAIGNS,
    format: settings.EXPORT_FORMAT,
    filters: {
      labelStatus: labelStatusFor(settings.EXPORT_STATUS),
      ...(settings.EXPORT_TEST_DATA !== undefined ? { testData: settings.EXPORT_TEST_DATA } : {}),
      ...(settings.EXPORT_START ? { start: settings.EXPORT_START } : {}),
      ...(settings.EXPORT_END ? { end: settings.EXPORT_END } : {}),
      ...(settings.EXPORT_LAST_ACTIVITY_START ? { lastActivityStart: settings.EXPORT_LAST_ACTIVITY_START } : {}),
      ...(settings.EXPORT_LAST_ACTIVITY_END ? { lastActivityEnd: settings.EXPORT_LAST_ACTIVITY_END } : {}),
    },
    ...(settings.EXPORT_FORMAT === "masks" && settings.EXPORT_GT_MODE
      ? {
          masks: {
            folder: settings.EXPORT_MASK_FOLDER,
            gtMode: settings.EXPORT_GT_MODE,
            ...(settings.EXPORT_MASK_SUFFIX !== undefined ? { suffix: settings.EXPORT_MASK_SUFFIX } : {}),
          },
        }
      : {}),
    outDir: settings.EXPORT_OUT,
    timeoutMs: settings.EXPORT_TIMEOUT * 1000,
    pollMs: settings.EXPORT_POLL_MS,
    ...(signal ? { signal } : {}),
  };
}

export interface CliIo {
  stdout: TextStream;
  stderr: TextStream;
  fetch?: FetchLike;
  clock?: Clock;
  signal?: AbortSignal;
}

/** Runs the CLI; resolves to the exit status. */
export async function main(argv: string[], env: Record<string, string | undefined>, io: CliIo): Promise<number> {
  let settings: CliSettings | undefined;
  try {
    settings = parseCliOptions(argv, env);
  } catch (error) {
    if (!(error instanceof CliUsageError)) throw error;
    io.stderr.write(`${error.message}\n\nRun with --help for usage.\n`);
    return 2;
  }
  if (!settings) {
    io.stdout.write(USAGE);
    return 0;
  }
  const client = new ExportClient({
    apiUrl: settings.LABEL_API_URL,
    key: settings.LABEL_API_KEY,
    secret: settings.LABEL_API_SECRET,
    requestTimeoutMs: settings.EXPORT_REQUEST_TIMEOUT * 1000,
    ...(io.fetch ? { fetch: io.fetch } : {}),
    ...(io.clock ? { clock: io.clock } : {}),
  });
  const output = new TerminalOutput(io.stdout);
  output.line(`API ${settings.LABEL_API_URL}`);
  try {
    const results = await client.run(runOptionsFrom(settings, io.signal), output);
    for (const line of summaryLines(results)) output.line(line);
    if (io.signal?.aborted) return 130;
    return exitCodeFor(results);
  } catch (error) {
    // Only whole-run problems get here (campaign list unreachable, bad credentials, cancelled before start).
    io.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    return io.signal?.aborted ? 130 : 1;
  }
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  // First Ctrl-C: stop after the current step and print the summary; second: quit at once.
  const interrupt = new AbortController();
  process.on("SIGINT", () => {
    if (interrupt.signal.aborted) process.exit(130);
    process.stderr.write("\ninterrupted; finishing up (Ctrl-C again to quit at once)\n");
    interrupt.abort();
  });
  main(process.argv.slice(2), process.env, { stdout: process.stdout, stderr: process.stderr, signal: interrupt.signal }).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
