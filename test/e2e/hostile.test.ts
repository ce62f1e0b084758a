/**
 * Hostile input, over real HTTP through the local host: property-based fuzzing (fast-check) of every
 * route and method in the OpenAPI document, plus targeted probes. For every generated request:
 *
 * - the answer is never a 5xx (nor a dropped connection);
 * - a 4xx answer is JSON `{status, detail}` with `status` equal to the HTTP status, a string `detail`,
 *   and no stack trace or source path in it;
 * - a refused request (any 4xx) changed nothing: every entity of the stack's prefixed tables, every blob
 *   of its prefixed (and `dropbox-<prefix>`) containers and the message count of its queues are the same
 *   before and after (the stack runs without workers, so nothing else moves them);
 * - where the input is certainly invalid under the input rules (shared/domain/inputRules.ts and the
 *   README's API section), it is refused, with the documented status where there is one.
 *
 * Deterministic: every property has a fixed seed (HOSTILE_SEED shifts them all). A failure message
 * names the property, its seed and fast-check's replay path, the shrunk request (method, target,
 * who, how the body was built, the body itself, a curl line), the answer, and what changed in storage.
 * HOSTILE_SURVEY=1 records every violation instead of stopping at the first, and fails at the end with
 * one line per distinct kind (route, rule, status) and its smallest example. HOSTILE_BUDGET_MS (default
 * 55 s) bounds the fuzzing time of the whole file (a property cut short by it passes with the runs it
 * made); HOSTILE_RUNS multiplies the number of runs for longer hunts; HOSTILE_VERBOSE prints runs and
 * time per property, HOSTILE_TRACE one line per request.
 */
import fc from "fast-check";
import { recordImages } from "../support/seed.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QUEUE_NAMES } from "../../shared/config.js";
import { curlFor, rawRequest, type RawRequest, type RawResponse } from "../support/rawHttp.js";
import { call, startTestStack, uploadToDropbox, type TestStack } from "../support/stack.js";
import { diffSnapshots, takeStorageSnapshot, type StorageSnapshot } from "../support/storageSnapshot.js";

// ---------------------------------------------------------------------------------------------------
// Settings

/** Small enough that "just over the limit" is cheap, large enough for the 1.1 MB polygon probe. */
const MAX_BODY_BYTES = 1536 * 1024;
const SEED = Number(process.env.HOSTILE_SEED ?? 20_240_611);
const SURVEY = process.env.HOSTILE_SURVEY === "1";
const FUZZ_BUDGET_MS = Number(process.env.HOSTILE_BUDGET_MS ?? 55_000);
/** Multiplies every property's number of runs (for long local hunts together with HOSTILE_BUDGET_MS). */
const RUNS_FACTOR = Number(process.env.HOSTILE_RUNS ?? 1);
const fileStart = Date.now();

/** The limits the API is adopting (shared/domain/inputRules.ts LIMITS), restated so the tests pin them. */
const RULES = {
  labelLength: 256,
  jsonFieldBytes: 16 * 1024,
  jsonFieldDepth: 20,
  bodyDepth: 64,
  polygonPoints: 10_000,
  objectsPerImage: 5_000,
  imagesPerBatch: 1_000,
  objectsJsonChars: 420_000,
};

// ---------------------------------------------------------------------------------------------------
// The stack and its small dataset

type Who = "admin" | "partnerA" | "partnerB" | "anonymous";

interface CampaignFixture {
  id: number;
  title: string;
  imageIds: number[];
  key: string;
  secret: string;
}

interface Fixture {
  prefix: string;
  admin: { key: string; secret: string };
  /** Fuzz targets: A and B active (labels on some images), C created. */
  a: CampaignFixture;
  b: CampaignFixture;
  c: CampaignFixture;
  imageSets: number[];
  exportIds: string[];
  /** Probe-only campaigns the fuzzers never address: P (55 images), T (status), S1/S2 (scope). */
  p: CampaignFixture;
  t: CampaignFixture;
  s1: CampaignFixture;
  s2: CampaignFixture;
}

let stack: TestStack;
let fx: Fixture;
let operations: Operation[];

const IMAGE_SIZE = 1000;

const seedImages = (count: number) => recordImages(stack.host.services, "hostile", count, { width: IMAGE_SIZE, height: IMAGE_SIZE });

async function campaign(title: string, email: string, imageIds: number[], active: boolean, translations?: Record<string, string>): Promise<CampaignFixture> {
  const created = await call(stack, "POST", "/campaigns", stack.admin, {
    title,
    labeler_email: email,
    metadata: { purpose: "hostile" },
    ...(translations ? { label_translations: translations } : {}),
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const id = created.body.campaign_id as number;
  const added = await call(
    stack,
    "POST",
    `/campaigns/${id}/images`,
    stack.admin,
    imageIds.map((i) => ({ id: i })),
  );
  expect(added.status, JSON.stringify(added.body)).toBe(200);
  if (active) expect((await call(stack, "PUT", `/campaigns/${id}`, stack.admin, { new_status: "active" })).status).toBe(200);
  return { id, title, imageIds, key: created.body.access_token.apikey, secret: created.body.access_token.apisecret };
}

const partnerHeaders = (c: CampaignFixture) => ({ "Authentication-Key": c.key, "Authentication-Secret": c.secret });
const box = { xmin: 1, xmax: 50, ymin: 1, ymax: 50 };

async function buildFixture(): Promise<Fixture> {
  const prefix = stack.config.prefix;
  const ids = await seedImages(70);
  // A few real blobs, so the snapshot watches blobs too.
  const images = stack.host.services.clients.blobService.getContainerClient(stack.config.imageContainer);
  for (const i of [0, 1, 2]) await images.getBlockBlobClient(`uploads/hostile/img-${i}.png`).upload("png", 3);
  await stack.host.services.clients.blobService
    .getContainerClient(stack.config.exportContainer)
    .getBlockBlobClient("downloads/earlier.csv")
    .upload("a,b\r\n", 5);

  const sets: number[] = [];
  for (const title of [`${prefix}-set-a`, `${prefix}-set-b`]) {
    const r = await call(stack, "POST", "/image_sets", stack.admin, { title, metadata: { country: "NL" } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    sets.push(r.body.imageset_id);
    await uploadToDropbox(r.body.dropbox_url, "photo.png", "not really a png");
  }

  const a = await campaign("hostile-a", "partner-a@example.com", ids.slice(0, 3), true, { Plastic: "plastic" });
  const b = await campaign("hostile-b", "partner-b@example.com", ids.slice(3, 6), true);
  const c = await campaign("hostile-c", "partner-c@example.com", ids.slice(6, 8), false);
  const p = await campaign("hostile-p", "partner-p@example.com", ids.slice(8, 63), true);
  const t = await campaign("hostile-t", "partner-t@example.com", ids.slice(63, 64), true);
  const s1 = await campaign("hostile-s1", "partner-s1@example.com", ids.slice(64, 67), true);
  const s2 = await campaign("hostile-s2", "partner-s2@example.com", ids.slice(67, 70), true);

  const label = (imageId: number) => ({ image_id: imageId, objects: [{ label: "Plastic", confidence: 0.9, bounding_box: box }] });
  for (const [cf, imageIds] of [
    [a, a.imageIds.slice(0, 2)],
    [b, b.imageIds.slice(0, 1)],
    [s1, s1.imageIds.slice(0, 1)],
    [s2, s2.imageIds.slice(0, 1)],
  ] as const) {
    const r = await call(stack, "PUT", `/campaigns/${cf.id}/objects`, partnerHeaders(cf), imageIds.map(label));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
  }
  const exp = await call(stack, "POST", `/campaigns/${a.id}/exports`, stack.admin, { format: "csv", label_status: "all" });
  expect(exp.status, JSON.stringify(exp.body)).toBe(202);
  return {
    prefix,
    admin: { key: stack.admin["Authentication-Key"]!, secret: stack.admin["Authentication-Secret"]! },
    a,
    b,
    c,
    imageSets: sets,
    exportIds: [exp.body.export_id],
    p,
    t,
    s1,
    s2,
  };
}

// ---------------------------------------------------------------------------------------------------
// The OpenAPI document as a list of operations

type Schema = Record<string, any>;

interface Operation {
  operationId: string;
  method: string;
  /** `/campaigns/{campaignId}/objects`, under /api/v1. */
  template: string;
  params: Array<{ name: string; integer: boolean }>;
  query: Array<{ name: string; schema: Schema }>;
  body?: Schema;
  access: string;
}

function operationsOf(doc: any): Operation[] {
  const out: Operation[] = [];
  for (const [template, methods] of Object.entries<Record<string, any>>(doc.paths)) {
    for (const [method, op] of Object.entries<any>(methods)) {
      const parameters: any[] = op.parameters ?? [];
      out.push({
        operationId: op.operationId,
        method: method.toUpperCase(),
        template,
        params: parameters.filter((p) => p.in === "path").map((p) => ({ name: p.name, integer: p.schema?.type === "integer" })),
        query: parameters.filter((p) => p.in === "query").map((p) => ({ name: p.name, schema: p.schema ?? {} })),
        body: op.requestBody?.content?.["application/json"]?.schema,
        access: /Access: (.*)\./.exec(op.description ?? "")?.[1] ?? (op.security?.length ? "admin" : "public"),
      });
    }
  }
  return out.sort((x, y) => `${x.template} ${x.method}`.localeCompare(`${y.template} ${y.method}`));
}

// ---------------------------------------------------------------------------------------------------
// Requests, checks and failure messages

/** How a request was built, for the failure message (the bytes themselves can be megabytes). */
interface Built {
  property: string;
  operation: string;
  who: string;
  request: RawRequest;
  description: string;
  /** Statuses the input rules demand for this input (empty: only the generic rules apply). */
  expect?: { statuses: number[]; why: string };
  /** Set (to the reason) when some path parameter cannot name anything: the answer must be a 4xx. */
  mustRefuse?: string;
}

interface Outcome {
  response: RawResponse;
  before?: StorageSnapshot;
  after?: StorageSnapshot;
  ms: number;
}

const snapshotOptions = () => ({ queues: QUEUE_NAMES.map((q) => stack.config.queue(q)) });
const snapshot = () => takeStorageSnapshot(stack.config, stack.host.services.clients, snapshotOptions());
/** The snapshot after the last refused request: with the workers off nothing else writes, so it is the next "before". */
let lastRefusedAfter: StorageSnapshot | undefined;

async function send(request: RawRequest): Promise<Outcome> {
  const before = lastRefusedAfter ?? (await snapshot());
  const started = Date.now();
  const response = await rawRequest(stack.host.port, request);
  const ms = Date.now() - started;
  // A 2xx/3xx may change storage; only refused (and failed) requests are compared.
  const after = response.status >= 400 || response.status === 0 ? await snapshot() : undefined;
  lastRefusedAfter = response.status >= 400 && response.status < 500 ? after : undefined;
  return { response, before, after, ms };
}

/** Signs of a stack trace or a source path (checked on the raw answer and on its decoded detail). */
const STACK_TRACE = [
  /(\n|\\n)\s*at \S/,
  / {4}at \S/,
  /\bat [\w.<>$]+ \((file:|node:|\/)/,
  /\/shared\//,
  /\/functions\//,
  /\/scripts\//,
  /node_modules/,
  /\.[cm]?[tj]s:\d+/,
  /node:internal/,
];

function shorten(text: string, max = 600): string {
  const shown = JSON.stringify(text.length > max ? text.slice(0, max) : text);
  return text.length > max ? `${shown}… (${text.length} chars in all)` : shown;
}

/** Every rule the answer breaks (empty when it keeps them all). */
function violations(built: Built, outcome: Outcome): string[] {
  const { response } = outcome;
  const out: string[] = [];
  if (response.status === 0) return [`no HTTP answer: ${response.transportError}`];
  if (response.status >= 500) out.push(`answered ${response.status} (a 5xx) to client input`);
  if (response.status >= 400 && response.status < 500 && built.request.method !== "HEAD") {
    let body: any;
    try {
      body = JSON.parse(response.text);
    } catch {
      out.push(`a ${response.status} whose body is not JSON: ${shorten(response.text, 200)}`);
    }
    if (body !== undefined) {
      if (!body || typeof body !== "object" || typeof body.detail !== "string")
        out.push(`a ${response.status} without a string "detail": ${shorten(response.text, 200)}`);
      else if (body.detail.trim() === "") out.push(`a ${response.status} with an empty "detail"`);
      if (body && typeof body === "object" && body.status !== response.status)
        out.push(`a ${response.status} whose JSON "status" is ${JSON.stringify(body?.status)}`);
    }
    if (!/json/i.test(response.headers["content-type"] ?? ""))
      out.push(`a ${response.status} with Content-Type ${JSON.stringify(response.headers["content-type"] ?? null)}, not JSON`);
  }
  let detail = "";
  try {
    detail = String(JSON.parse(response.text)?.detail ?? "");
  } catch {
    // not JSON: the raw text is checked
  }
  const leaked = STACK_TRACE.find((re) => re.test(response.text) || re.test(detail));
  if (leaked && response.status >= 400) out.push(`the answer holds stack-trace or source-path text (${leaked}): ${shorten(response.text, 300)}`);
  if (response.status >= 400 && outcome.before && outcome.after) {
    const changes = diffSnapshots(outcome.before, outcome.after);
    if (changes.length)
      out.push(`${response.status >= 500 ? "failed" : "refused"} with ${response.status}, yet storage changed:\n      ${changes.join("\n      ")}`);
  }
  if (built.expect && !built.expect.statuses.includes(response.status)) {
    out.push(`expected ${built.expect.statuses.join(" or ")} (${built.expect.why}), got ${response.status}`);
  }
  if (built.mustRefuse && (response.status < 400 || response.status >= 500) && response.status !== 0) {
    out.push(`${built.mustRefuse}, yet it was answered ${response.status}`);
  }
  return out;
}

function describeRequest(built: Built): string {
  const { request } = built;
  const body = request.body === undefined ? undefined : Buffer.isBuffer(request.body) ? request.body.toString("utf8") : request.body;
  const headers = (request.headers ?? []).map(([n, v]) => `${n}: ${shorten(v, 120)}`).join("; ");
  return [
    `request:  ${request.method} /api/v1${request.target.replace(/^\/api\/v1/, "")} as ${built.who}`,
    `  built:  ${built.description}`,
    `  headers: ${headers || "(none)"}`,
    body === undefined ? "  body:   (none)" : `  body (${Buffer.byteLength(body)} bytes): ${shorten(body, 700)}`,
    `  curl:   ${curlFor(`http://127.0.0.1:${stack.host.port}`, request)}`,
  ].join("\n");
}

function failureMessage(built: Built, outcome: Outcome, broken: string[]): string {
  return [
    `[${built.property}] ${built.operation}: ${broken.length} rule(s) broken`,
    describeRequest(built),
    `answer:   ${outcome.response.status} ${shorten(outcome.response.text, 500)} (${outcome.ms} ms)`,
    `broken:\n  - ${broken.join("\n  - ")}`,
  ].join("\n");
}

/** Survey mode: distinct kinds of violation → smallest example. */
const survey = new Map<string, { count: number; size: number; message: string }>();

function kindOf(built: Built, line: string): string {
  const rule = line
    .replace(/storage changed:[\s\S]*/, "storage changed")
    .replace(/: .*$/s, "")
    .replace(/\d{4,}/g, "N");
  return `${built.operation} | ${rule}`;
}

/** Sends the request and checks every rule; throws a readable error (or records it when surveying). */
async function exercise(built: Built): Promise<Outcome> {
  const outcome = await send(built.request);
  const broken = violations(built, outcome);
  if (process.env.HOSTILE_TRACE)
    console.log(
      `${outcome.response.status} ${built.request.method} ${built.request.target.slice(0, 100)} | ${built.description.slice(0, 160)} | ${outcome.response.text.slice(0, 160)}${broken.length ? ` | BROKEN ${broken.length}` : ""}`,
    );
  if (broken.length) {
    const message = failureMessage(built, outcome, broken);
    if (!SURVEY) throw new Error(message);
    const size = typeof built.request.body === "string" ? built.request.body.length : (built.request.body?.length ?? 0);
    for (const line of broken) {
      const kind = kindOf(built, line);
      const seen = survey.get(kind);
      const weight = size + built.request.target.length;
      if (!seen) survey.set(kind, { count: 1, size: weight, message });
      else {
        seen.count++;
        if (weight < seen.size) Object.assign(seen, { size: weight, message });
      }
    }
  }
  return outcome;
}

/** Runs a property under the file's fuzzing budget; `share` is this property's part of what is left. */
async function runProperty<T>(
  name: string,
  seedOffset: number,
  numRuns: number,
  share: number,
  arb: fc.Arbitrary<T>,
  predicate: (value: T) => Promise<void>,
  examples: T[] = [],
) {
  const remaining = FUZZ_BUDGET_MS - (Date.now() - fileStart);
  const limit = Math.max(3_000, Math.floor(remaining * share));
  const seed = SEED + seedOffset;
  const started = Date.now();
  let runs = 0;
  lastRefusedAfter = undefined;
  await fc.assert(
    fc.asyncProperty(arb, async (value) => {
      runs++;
      await predicate(value);
    }),
    {
      numRuns: Math.round(numRuns * RUNS_FACTOR),
      seed,
      examples: examples.map((e) => [e] as [T]),
      plugins: [fc.interruptAfterTimeLimit(limit)],
      includeErrorInReport: true,
    },
  );
  if (process.env.HOSTILE_VERBOSE) console.log(`${name}: ${runs} runs in ${Date.now() - started} ms (limit ${limit} ms, seed ${seed})`);
}

function finishSurvey(property: string) {
  if (!SURVEY) return;
  const kinds = [...survey.entries()].filter(([k]) => k);
  survey.clear();
  if (kinds.length) {
    throw new Error(
      `[${property}] ${kinds.length} distinct kinds of violation (survey mode):\n\n` +
        kinds.map(([kind, v]) => `### ${kind}  (×${v.count})\n${v.message}`).join("\n\n"),
    );
  }
}

// ---------------------------------------------------------------------------------------------------
// Credentials

function authFor(who: Who | CampaignFixture): Array<[string, string]> {
  if (typeof who === "object")
    return [
      ["Authentication-Key", who.key],
      ["Authentication-Secret", who.secret],
    ];
  if (who === "admin")
    return [
      ["Authentication-Key", fx.admin.key],
      ["Authentication-Secret", fx.admin.secret],
    ];
  if (who === "partnerA") return authFor(fx.a);
  if (who === "partnerB") return authFor(fx.b);
  return [];
}

type AuthKind = "admin" | "partnerA" | "bad" | "parser" | "oversized";
interface AuthVariant {
  name: string;
  kind: AuthKind;
  headers: () => Array<[string, string]>;
}

const K = "Authentication-Key";
const S = "Authentication-Secret";
const AUTH_VARIANTS: AuthVariant[] = [
  { name: "no credentials", kind: "bad", headers: () => [] },
  { name: "key only", kind: "bad", headers: () => [[K, fx.admin.key]] },
  { name: "secret only", kind: "bad", headers: () => [[S, fx.admin.secret]] },
  {
    name: "both empty",
    kind: "bad",
    headers: () => [
      [K, ""],
      [S, ""],
    ],
  },
  {
    name: "whitespace key",
    kind: "bad",
    headers: () => [
      [K, "   "],
      [S, fx.admin.secret],
    ],
  },
  {
    name: "admin key, wrong secret",
    kind: "bad",
    headers: () => [
      [K, fx.admin.key],
      [S, "wrong-secret"],
    ],
  },
  {
    name: "admin key, empty secret",
    kind: "bad",
    headers: () => [
      [K, fx.admin.key],
      [S, ""],
    ],
  },
  {
    name: "admin key upper-cased",
    kind: "bad",
    headers: () => [
      [K, fx.admin.key.toUpperCase()],
      [S, fx.admin.secret],
    ],
  },
  {
    name: "homoglyph admin key (Cyrillic е)",
    kind: "bad",
    headers: () => [
      [K, fx.admin.key.replace("e", "е")],
      [S, fx.admin.secret],
    ],
  },
  {
    name: "key 8 KB",
    kind: "bad",
    headers: () => [
      [K, "k".repeat(8_000)],
      [S, fx.admin.secret],
    ],
  },
  {
    name: "secret 8 KB",
    kind: "bad",
    headers: () => [
      [K, fx.admin.key],
      [S, "s".repeat(8_000)],
    ],
  },
  {
    name: "key 64 KB (over the header limit)",
    kind: "oversized",
    headers: () => [
      [K, "k".repeat(64_000)],
      [S, fx.admin.secret],
    ],
  },
  {
    name: "unicode key",
    kind: "bad",
    headers: () => [
      [K, "ключ-🔑-κλειδί"],
      [S, "秘密"],
    ],
  },
  {
    name: "unicode secret on the admin key",
    kind: "bad",
    headers: () => [
      [K, fx.admin.key],
      [S, `${fx.admin.secret}é`],
    ],
  },
  {
    name: "tab inside the key",
    kind: "bad",
    headers: () => [
      [K, `test\tadmin-key`],
      [S, fx.admin.secret],
    ],
  },
  {
    name: "NUL in the key",
    kind: "parser",
    headers: () => [
      [K, `${fx.admin.key}\u0000`],
      [S, fx.admin.secret],
    ],
  },
  {
    name: "SOH in the secret",
    kind: "parser",
    headers: () => [
      [K, fx.admin.key],
      [S, `\u0001${fx.admin.secret}`],
    ],
  },
  {
    name: "ESC sequence in the key",
    kind: "parser",
    headers: () => [
      [K, "\u001b[31mred"],
      [S, "x"],
    ],
  },
  {
    name: "DEL in the key",
    kind: "parser",
    headers: () => [
      [K, "\u007f"],
      [S, "x"],
    ],
  },
  {
    name: "vertical tab in the secret",
    kind: "parser",
    headers: () => [
      [K, fx.admin.key],
      [S, "\u000b"],
    ],
  },
  {
    name: "key twice",
    kind: "bad",
    headers: () => [
      [K, fx.admin.key],
      [K, fx.admin.key],
      [S, fx.admin.secret],
    ],
  },
  {
    name: "OData-looking key",
    kind: "bad",
    headers: () => [
      [K, "x' or PartitionKey ne '"],
      [S, "x"],
    ],
  },
  {
    name: "partner A key, partner B secret",
    kind: "bad",
    headers: () => [
      [K, fx.a.key],
      [S, fx.b.secret],
    ],
  },
  {
    name: "admin key, partner A secret",
    kind: "bad",
    headers: () => [
      [K, fx.admin.key],
      [S, fx.a.secret],
    ],
  },
  { name: "valid admin", kind: "admin", headers: () => authFor("admin") },
  {
    name: "valid admin, lower-case header names",
    kind: "admin",
    headers: () => [
      ["authentication-key", fx.admin.key],
      ["authentication-secret", fx.admin.secret],
    ],
  },
  { name: "valid partner A (campaign A's labeler)", kind: "partnerA", headers: () => authFor("partnerA") },
];

// ---------------------------------------------------------------------------------------------------
// Paths

/** Existing ids the fuzzers may address (probe campaigns are left alone). */
function validPool(param: string): string[] {
  switch (param) {
    case "campaignId":
      return [fx.a.id, fx.b.id, fx.c.id].map(String);
    case "imageId":
      return [...fx.a.imageIds, ...fx.b.imageIds, ...fx.c.imageIds].map(String);
    case "imagesetId":
      return fx.imageSets.map(String);
    case "exportId":
      return fx.exportIds;
    default:
      return ["1"];
  }
}

const HOSTILE_SEGMENTS = [
  "0",
  "-1",
  "-0",
  "00",
  "007",
  "+1",
  "1.0",
  "1e3",
  "0x1F",
  "1_000",
  " 1",
  "1 ",
  "%201",
  "1%20",
  "9007199254740993",
  "18446744073709551616",
  "99999999999999999999999999999999",
  "1".repeat(400),
  "abc",
  "null",
  "undefined",
  "NaN",
  "Infinity",
  "-Infinity",
  "true",
  "[]",
  "{}",
  "[1]",
  "%ZZ",
  "%",
  "%2",
  "%G1",
  "%2E%2E",
  "%2e%2e",
  "%2E",
  "..",
  ".",
  "...",
  "%00",
  "1%00",
  "%0A",
  "%0D%0A",
  "%09",
  "%7F",
  "%C0%AE%C0%AE",
  "%C0%AF",
  "%E0%80%AE",
  "%C1%81",
  "%ED%A0%80",
  "%ED%B0%80",
  "%F4%90%80%80",
  "%FF",
  "%FE%FF",
  "%F0%9F",
  "%25ZZ",
  "%252E%252E",
  "%2F",
  "%2F..%2F..%2Fetc%2Fpasswd",
  "%5C",
  "%5C..%5C",
  "%u0041",
  "%3F",
  "%23",
  "1%3Fpage%3D2",
  "%26",
  "%3B",
  encodeURIComponent("ünïcødé"),
  encodeURIComponent("🦄"),
  encodeURIComponent("\u202e1"),
  "%EF%BB%BF1",
  encodeURIComponent("１"),
  encodeURIComponent("١٢"),
  encodeURIComponent("𝟏"),
  "a".repeat(4000),
  encodeURIComponent("é".repeat(1200)),
  "1;DROP",
  "1'",
  "1%27%20or%20%271%27%3D%271",
  "*",
  "~",
  "$",
  "@",
  "1-20200101000000-deadbeef",
  "0-20200101000000-deadbeef",
  "1-99999999999999-zzzzzzzz",
];

/** Percent-encodes UTF-8 bytes (lone surrogates become U+FFFD, as encoders do). */
function percentEncode(text: string): string {
  return [...Buffer.from(text, "utf8")]
    .map((b) => (/[A-Za-z0-9\-_.~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, "0")}`))
    .join("");
}

interface Segment {
  kind: "valid" | "unknown" | "huge" | "hostile" | "random" | "long";
  text: string;
}

const segmentArb = (param: string, integer: boolean): fc.Arbitrary<Segment> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...validPool(param)).map((text): Segment => ({ kind: "valid", text })) },
    {
      weight: 1,
      arbitrary: integer
        ? fc.integer({ min: 1_000_000, max: 2 ** 31 }).map((n): Segment => ({ kind: "unknown", text: String(n) }))
        : fc.integer({ min: 1, max: 9999 }).map((n): Segment => ({ kind: "unknown", text: `${fx.a.id}-20200101000000-${n.toString(16).padStart(8, "0")}` })),
    },
    { weight: 1, arbitrary: fc.bigInt({ min: 2n ** 53n + 1n, max: 10n ** 30n }).map((n): Segment => ({ kind: "huge", text: n.toString() })) },
    { weight: 5, arbitrary: fc.constantFrom(...HOSTILE_SEGMENTS).map((text): Segment => ({ kind: "hostile", text })) },
    { weight: 1, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 12 }).map((s): Segment => ({ kind: "random", text: percentEncode(s) })) },
    { weight: 1, arbitrary: fc.integer({ min: 200, max: 6000 }).map((n): Segment => ({ kind: "long", text: "7".repeat(n) })) },
  );

/** Could this segment name something that exists? If not, the request must be refused. */
function mayExist(param: { name: string; integer: boolean }, text: string): boolean {
  if (validPool(param.name).includes(text)) return true;
  if (param.integer) return /^[1-9][0-9]{0,5}$/.test(text);
  return false;
}

const HOSTILE_QUERY_VALUES = [
  "0",
  "-1",
  "1.5",
  "1e3",
  "abc",
  "",
  "%ZZ",
  "99999999999999999999",
  "1001",
  encodeURIComponent("ü"),
  "%00",
  "true",
  "bogus",
  "user_complete,,",
  ",",
  "1,,2",
  "%2C",
  "null",
  "[]",
  "NaN",
  "Infinity",
  "x".repeat(3000),
  `1${",1".repeat(800)}`,
];
const BAD_PAGE_VALUES = new Set([
  "0",
  "-1",
  "1.5",
  "abc",
  "",
  "%ZZ",
  "99999999999999999999",
  "%00",
  "true",
  "bogus",
  "user_complete,,",
  ",",
  "1,,2",
  "%2C",
  "null",
  "[]",
  "NaN",
  "Infinity",
  "x".repeat(3000),
  `1${",1".repeat(800)}`,
]);

const queryArb = (op: Operation): fc.Arbitrary<Array<[string, string]>> =>
  fc.array(
    fc.tuple(
      fc.constantFrom(...op.query.map((q) => q.name), "page", "per_page", "unknown_param", "__proto__", "%ZZ", "label_status"),
      fc.constantFrom(...HOSTILE_QUERY_VALUES),
    ),
    { maxLength: 3 },
  );

function targetOf(op: Operation, segments: Record<string, string>, query: Array<[string, string]> = []): string {
  const path = op.template.replace(/\{([A-Za-z_]+)\}/g, (_, name: string) => segments[name] ?? "1");
  return `/api/v1${path}${query.length ? `?${query.map(([k, v]) => `${k}=${v}`).join("&")}` : ""}`;
}

// ---------------------------------------------------------------------------------------------------
// Bodies: derived from the documented JSON schema, then mutated

/** Values for fields whose name says what they hold, so derived bodies reach past the first check. */
function hintFor(op: Operation, key: string | undefined): fc.Arbitrary<unknown> | undefined {
  const imageIds = [...fx.a.imageIds, ...fx.b.imageIds, ...fx.c.imageIds, 999_999];
  switch (key) {
    case "image_id":
    case "id":
      return fc.constantFrom(...imageIds);
    case "title":
      return fc.constant(new Fresh(op.operationId === "createImageSet" ? "set-title" : "campaign-title"));
    case "labeler_email":
      return fc.oneof(fc.constant(new Fresh("email")), fc.constant("partner-a@example.com"));
    case "label":
      return fc.constantFrom("Plastic", "cat", "  dog  ");
    case "bounding_box":
      return fc.constant(box);
    case "polygon":
      return fc.constant([
        [1, 1],
        [40, 1],
        [40, 40],
      ]);
    case "confidence":
      return fc.constantFrom(0, 0.5, 1, null);
    case "start":
    case "end":
    case "last_activity_start":
    case "last_activity_end":
      return fc.constantFrom("2024-01-01", "2024-02-29 10:00:00");
    case "output_folder":
      return fc.constantFrom("masks", "out/run-1");
    case "filepath":
      return fc.constantFrom("uploads/hostile/img-0.png", "nope/none.png");
    case "comment":
      return fc.constantFrom("box too loose", "ok");
    case "metadata":
      return fc.option(fc.dictionary(fc.constantFrom("country", "note", "n"), fc.oneof(fc.string({ maxLength: 8 }), fc.integer()), { maxKeys: 3 }), {
        nil: null,
      });
    case "label_translations":
      return fc.option(fc.dictionary(fc.constantFrom("Plastic", "Glass"), fc.constantFrom("plastic", "glass"), { maxKeys: 2 }), { nil: null });
    default:
      return undefined;
  }
}

function arbFromSchema(op: Operation, schema: Schema | undefined, key?: string): fc.Arbitrary<unknown> {
  const hint = hintFor(op, key);
  if (hint) return hint;
  if (!schema || Object.keys(schema).filter((k) => k !== "$schema" && k !== "description").length === 0) return fc.jsonValue({ maxDepth: 2 });
  if (schema.anyOf || schema.oneOf) return fc.oneof(...(schema.anyOf ?? schema.oneOf).map((s: Schema) => arbFromSchema(op, s, key)));
  if ("const" in schema) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  switch (schema.type) {
    case "null":
      return fc.constant(null);
    case "boolean":
      return fc.boolean();
    case "integer": {
      const min = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : 0);
      return fc.integer({ min, max: Math.min(schema.maximum ?? min + 1000, min + 1000) });
    }
    case "number":
      return fc.double({ min: schema.minimum ?? -1000, max: schema.maximum ?? 1000, noNaN: true, noDefaultInfinity: true });
    case "string":
      if (schema.pattern)
        return fc
          .stringMatching(new RegExp(schema.pattern), { size: "xsmall" })
          .filter((s) => s.length >= (schema.minLength ?? 0) && s.length <= (schema.maxLength ?? Infinity));
      return fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 12, (schema.minLength ?? 0) + 12) });
    case "array": {
      if (schema.prefixItems) return fc.tuple(...schema.prefixItems.map((s: Schema) => arbFromSchema(op, s)));
      const minLength = schema.minItems ?? 0;
      return fc.array(arbFromSchema(op, schema.items, key === "image_ids" ? "image_id" : undefined), {
        minLength,
        maxLength: Math.min(schema.maxItems ?? minLength + 3, minLength + 3),
      });
    }
    case "object": {
      const properties: Record<string, Schema> = schema.properties ?? {};
      if (Object.keys(properties).length === 0) return fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 });
      const required: string[] = schema.required ?? [];
      return fc.record(Object.fromEntries(Object.entries(properties).map(([k, s]) => [k, arbFromSchema(op, s, k)])), { requiredKeys: required as never[] });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/**
 * A title or e-mail address made up anew each time a body is serialized, so that a body never fails
 * because an earlier run (or a shrinking replay) took its title: what it is refused for is its hostile
 * part. (Image set titles carry the stack's prefix, which names their dropbox `dropbox-<prefix>-…`.)
 */
class Fresh {
  static #count = 0;
  readonly #kind: "set-title" | "campaign-title" | "email";
  constructor(kind: "set-title" | "campaign-title" | "email") {
    this.#kind = kind;
  }
  next(): string {
    const n = ++Fresh.#count;
    if (this.#kind === "set-title") return `${fx.prefix}-fz-${n}`;
    if (this.#kind === "campaign-title") return `hostile-fz-${n}`;
    return `fuzz-${n}@example.com`;
  }
}

/** Raw JSON text spliced into a body where a value would go. */
class Raw {
  constructor(readonly text: string) {}
}

function serialize(value: unknown): string {
  if (value instanceof Raw) return value.text;
  if (value instanceof Fresh) return JSON.stringify(value.next());
  if (Array.isArray(value)) return `[${value.map(serialize).join(",")}]`;
  if (value && typeof value === "object")
    return `{${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}:${serialize(v)}`)
      .join(",")}}`;
  return JSON.stringify(value) ?? "null";
}

type Hostile =
  | { t: "scalar"; raw: string }
  | { t: "hugeString"; size: number; char: string }
  | { t: "deep"; depth: number; shape: "array" | "object" }
  | { t: "escapedString"; raw: string; what: string }
  | { t: "bigArray"; n: number; item: string }
  | { t: "bigObject"; n: number };

const hostileArb: fc.Arbitrary<Hostile> = fc.oneof(
  fc
    .constantFrom(
      "null",
      '""',
      "true",
      "0",
      "-0",
      "-1",
      "1.5",
      "1e308",
      "-1e308",
      "1e999",
      "-1e999",
      "1e-400",
      '"NaN"',
      '"Infinity"',
      "9007199254740993",
      "123456789012345678901234567890",
      "[]",
      "{}",
      '"x"',
      "[null]",
      '{"":null}',
      '{"__proto__":{"polluted":true}}',
      '{"constructor":{"prototype":{"polluted":true}}}',
    )
    .map((raw): Hostile => ({ t: "scalar", raw })),
  fc.record({ t: fc.constant("hugeString" as const), size: fc.integer({ min: 100_000, max: 160_000 }), char: fc.constantFrom("a", "é", "🦄", "\\u0000") }),
  fc.record({
    t: fc.constant("deep" as const),
    depth: fc.oneof(fc.integer({ min: RULES.jsonFieldDepth + 1, max: RULES.bodyDepth }), fc.integer({ min: RULES.bodyDepth + 1, max: 6_000 })),
    shape: fc.constantFrom("array" as const, "object" as const),
  }),
  fc
    .constantFrom(
      { raw: '"\\ud800"', what: "a lone high surrogate" },
      { raw: '"a\\udc00b"', what: "a lone low surrogate" },
      { raw: '"\\udbff\\udbff"', what: "two high surrogates" },
      { raw: '"a\\u0000b"', what: "a NUL character" },
      { raw: '"\\u0007bell"', what: "a BEL control character" },
      { raw: '"esc\\u001b[2J"', what: "an ESC control character" },
      { raw: '"del\\u007f"', what: "a DEL character" },
      { raw: '"c1\\u0085"', what: "a C1 control character (NEL)" },
      { raw: '"\\u202eevil"', what: "a right-to-left override" },
      { raw: '"\\ufeffbom"', what: "a byte-order mark" },
      { raw: '"Ünïcødé 🦄 𝕏 ﷺ"', what: "unicode letters and emoji" },
      { raw: '"   "', what: "only spaces" },
      { raw: '"line\\nbreak"', what: "a newline" },
    )
    .map(({ raw, what }): Hostile => ({ t: "escapedString", raw, what })),
  fc.record({
    t: fc.constant("bigArray" as const),
    n: fc.integer({ min: 1_001, max: 6_000 }),
    item: fc.constantFrom("0", "{}", '"x"', "null", "[0,0]", '{"id":1}'),
  }),
  fc.record({ t: fc.constant("bigObject" as const), n: fc.integer({ min: 3_000, max: 6_000 }) }),
);

function hostileText(h: Hostile): string {
  switch (h.t) {
    case "scalar":
      return h.raw;
    case "hugeString":
      return `"${h.char.repeat(h.char === "\\u0000" ? Math.ceil(h.size / 6) : h.size)}"`;
    case "deep":
      return h.shape === "array" ? `${"[".repeat(h.depth)}${"]".repeat(h.depth)}` : `${'{"a":'.repeat(h.depth)}1${"}".repeat(h.depth)}`;
    case "escapedString":
      return h.raw;
    case "bigArray":
      return `[${Array.from({ length: h.n }, () => h.item).join(",")}]`;
    case "bigObject":
      return `{${Array.from({ length: h.n }, (_, i) => `"k${i}":0`).join(",")}}`;
  }
}

function hostileName(h: Hostile): string {
  switch (h.t) {
    case "scalar":
      return `the JSON value ${h.raw}`;
    case "hugeString":
      return `a string of ${h.size} × ${JSON.stringify(h.char)}`;
    case "deep":
      return `${h.shape === "array" ? "arrays" : "objects"} nested ${h.depth} deep`;
    case "escapedString":
      return `a string with ${h.what} (${h.raw})`;
    case "bigArray":
      return `an array of ${h.n} × ${h.item}`;
    case "bigObject":
      return `an object with ${h.n} keys`;
  }
}

type PathStep = string | number;

function pathsOf(value: unknown, at: PathStep[] = [], out: PathStep[][] = []): PathStep[][] {
  out.push(at);
  if (Array.isArray(value)) value.forEach((v, i) => pathsOf(v, [...at, i], out));
  else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) pathsOf(v, [...at, k], out);
  return out;
}

const showPath = (path: PathStep[]) => `$${path.map((p) => (typeof p === "number" ? `[${p}]` : `.${p}`)).join("")}`;

function setAt(value: unknown, path: PathStep[], replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const [head, ...rest] = path;
  if (Array.isArray(value)) return value.map((v, i) => (i === head ? setAt(v, rest, replacement) : v));
  return { ...(value as Record<string, unknown>), [head as string]: setAt((value as Record<string, unknown>)[head as string], rest, replacement) };
}

function removeAt(value: unknown, path: PathStep[]): unknown {
  const parentPath = path.slice(0, -1);
  const last = path[path.length - 1];
  const parent = parentPath.reduce<any>((v, p) => v?.[p], value);
  if (parent === null || typeof parent !== "object") return value;
  const next = Array.isArray(parent) ? parent.filter((_, i) => i !== last) : Object.fromEntries(Object.entries(parent).filter(([k]) => k !== last));
  return setAt(value, parentPath, next);
}

type TextBody = { name: string; text: string | ((valid: string) => string) | Buffer; expect?: number[] };

const TEXT_BODIES: TextBody[] = [
  { name: "not JSON", text: "{not json", expect: [400] },
  { name: "empty", text: "", expect: [400] },
  { name: "only whitespace", text: " \r\n\t ", expect: [400] },
  { name: "XML", text: "<campaign/>", expect: [400] },
  { name: "single quotes", text: "{'title': 'x'}", expect: [400] },
  { name: "trailing comma", text: "[1,]", expect: [400] },
  { name: "NaN literal", text: "NaN", expect: [400] },
  { name: "undefined literal", text: "undefined", expect: [400] },
  { name: "truncated valid body", text: (v) => v.slice(0, Math.max(1, Math.floor(v.length / 2))), expect: [400] },
  { name: "valid body + trailing garbage", text: (v) => `${v}x`, expect: [400] },
  { name: "two JSON documents", text: (v) => `${v}${v}`, expect: [400] },
  { name: "raw NUL byte inside a string", text: '{"title":"a\u0000b"}', expect: [400] },
  { name: "raw newline inside a string", text: '{"title":"a\nb"}', expect: [400] },
  { name: "unbalanced brackets 10,000 deep", text: "[".repeat(10_000), expect: [400, 413, 422] },
  { name: "arrays nested 5,000 deep", text: `${"[".repeat(5_000)}${"]".repeat(5_000)}`, expect: [400, 413, 422] },
  { name: "objects nested 5,000 deep", text: `${'{"a":'.repeat(5_000)}1${"}".repeat(5_000)}`, expect: [400, 413, 422] },
  { name: "arrays nested 100,000 deep", text: `${"[".repeat(100_000)}${"]".repeat(100_000)}`, expect: [400, 413, 422] },
  { name: "arrays nested 65 deep", text: `${"[".repeat(65)}${"]".repeat(65)}`, expect: [400, 413, 422] },
  { name: "root null", text: "null", expect: [422] },
  { name: "root string", text: '"hello"', expect: [422] },
  { name: "root number 1e999", text: "1e999", expect: [422] },
  { name: "root -0", text: "-0", expect: [422] },
  { name: "root true", text: "true", expect: [422] },
  { name: "BOM before the valid body", text: (v) => `\ufeff${v}` },
  { name: "valid body in UTF-16LE", text: Buffer.from('{"new_status":"active"}', "utf16le") },
  { name: "invalid UTF-8 bytes in a string", text: Buffer.concat([Buffer.from('{"title":"'), Buffer.from([0xff, 0xfe, 0xc0, 0xae]), Buffer.from('"}')]) },
  { name: "duplicate keys", text: '{"new_status":"active","new_status":"bogus","title":"a","title":5}' },
  { name: "huge number literal", text: `[${"9".repeat(20_000)}]` },
  { name: "200 KB of spaces around the valid body", text: (v) => `${" ".repeat(100_000)}${v}${" ".repeat(100_000)}` },
];

/**
 * Values the request schemas refuse for a field of that name wherever it appears (checked while the
 * body is read, before any state is looked at), so the answer must be 422.
 */
const INVALID_FIELD_VALUES: Record<string, string[]> = {
  title: ['""', '"a b"', '"../x"', '"a/b"', '"ünï"', JSON.stringify("x".repeat(201)), "5", "null"],
  labeler_email: ['"not-an-email"', '"a@b"', '""', JSON.stringify(`${"x".repeat(250)}@example.com`), '"a@example.com\\u0000"', "[]"],
  metadata: ["[]", '"text"', "5", "true"],
  label_translations: ['{"":"x"}', '{"a":""}', '{"a":5}', "[]", '"Plastic"'],
  new_status: ['"bogus"', '"ACTIVE"', '""', "1", "null"],
  image_id: ["0", "-1", "1.5", '"1"', "null", "1e999"],
  id: ["0", "-3", "2.5", '"7"', "null", "9007199254740993"],
  image_ids: ["[]", "[0]", '["1"]', `[${Array.from({ length: 1_001 }, (_, i) => i + 1).join(",")}]`, "{}", "1"],
  objects: ['"none"', "null", "{}", `[${Array.from({ length: 5_001 }, () => '{"label":"a","bounding_box":{"xmin":1,"xmax":2,"ymin":1,"ymax":2}}').join(",")}]`],
  label: ['""', '"   "', '"a\\u0000b"', '"bell\\u0007"', '"\\ud800"', JSON.stringify("L".repeat(257)), "5", "null"],
  confidence: ["1.01", "-0.01", '"0.5"', "1e999", "true"],
  bounding_box: [
    '{"xmin":"1","xmax":2,"ymin":1,"ymax":2}',
    '{"xmin":1,"xmax":2,"ymin":1}',
    '{"xmin":1,"xmax":2,"ymin":1,"ymax":2,"z":0}',
    "[1,2,3,4]",
    '{"xmin":1e999,"xmax":2,"ymin":1,"ymax":2}',
  ],
  polygon: [
    "[[1,1],[2,2]]",
    "[[1,1,1],[2,2,2],[3,3,3]]",
    '[["1","1"],["2","2"],["3","3"]]',
    `[${Array.from({ length: 10_001 }, (_, i) => `[${i % 900},${(i * 7) % 900}]`).join(",")}]`,
    "[]",
    '"0,0 1,1 2,2"',
  ],
  decision: ['"maybe"', '""', '"APPROVE"', "true"],
  comment: [JSON.stringify("c".repeat(2_001)), "5", "[]"],
  test_data: ['"yes"', "1", '"TRUE"', "[]"],
  test_images: ['"yes"', "0", '"False"'],
  format: ['"pdf"', '"CSV"', '""', "null"],
  gt_mode: ['"bogus"', '""', "1"],
  output_folder: ['""', '"../up"', '"downloads/x"', '"a\\\\b"', '"a/./b"', '"x%2E%2E/y"', '"a\\u0000b"', JSON.stringify("f".repeat(513))],
  suffix: ['"../x"', '"a/b"', JSON.stringify("s".repeat(65)), '"a b"'],
  label_status: ['"bogus"', '""', '"done"', "1"],
  start: ['"2024-02-30"', '"2024-13-01"', '"yesterday"', '"2024-01-01 25:00:00"', "20240101"],
  end: ['"2023-02-29"', '"01-01-2024"', '""'],
  last_activity_start: ['"2024-00-10"', '"2024-1-1"'],
  last_activity_end: ['"2024-12-32"', '"now"'],
  page: ["0", "-1", "1.5", '"2"', "1e999"],
  per_page: ["0", "1001", '"10"', "2.5"],
  filepath: ['""', JSON.stringify("p".repeat(1_025)), "5"],
};

type Mutation =
  | { kind: "none" }
  | { kind: "replace"; at: number; value: Hostile }
  | { kind: "remove"; at: number }
  | { kind: "dropRequired"; which: number }
  | { kind: "extra"; key: string; value: Hostile }
  | { kind: "text"; which: number }
  | { kind: "invalidField"; at: number; which: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 1, arbitrary: fc.constant<Mutation>({ kind: "none" }) },
  { weight: 8, arbitrary: fc.record({ kind: fc.constant("replace" as const), at: fc.nat(60), value: hostileArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("remove" as const), at: fc.nat(60) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("dropRequired" as const), which: fc.nat(5) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("extra" as const),
      key: fc.constantFrom("extra_field", "__proto__", "constructor", "", "ünï", "TITLE", "x".repeat(300)),
      value: hostileArb,
    }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("text" as const), which: fc.nat(TEXT_BODIES.length - 1) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("invalidField" as const), at: fc.nat(60), which: fc.nat(20) }) },
);

/** A strict object of the schema the mutation applies to: the root, or the first item of a root array. */
function strictTarget(schema: Schema, value: unknown): { path: PathStep[]; schema: Schema } | undefined {
  const pick = (s: Schema | undefined, v: unknown): Schema | undefined => {
    if (!s || !v || typeof v !== "object" || Array.isArray(v)) return undefined;
    if (s.type === "object" && s.additionalProperties === false) return s;
    const alts: Schema[] = s.anyOf ?? s.oneOf ?? [];
    return alts.find(
      (alt) =>
        alt.type === "object" &&
        Object.keys(alt.properties ?? {}).every((k) => k in v || !(alt.required ?? []).includes(k)) &&
        Object.keys(v).every((k) => k in (alt.properties ?? {})),
    );
  };
  if (schema.type === "array" && Array.isArray(value) && value.length > 0) {
    const s = pick(schema.items, value[0]);
    return s ? { path: [0], schema: s } : undefined;
  }
  const s = pick(schema, value);
  return s ? { path: [], schema: s } : undefined;
}

interface BodyCase {
  text: string | Buffer;
  description: string;
  expect?: { statuses: number[]; why: string };
}

/** Fields whose value is free-form JSON: a wrong type there may be fine. */
const FREE_FORM = new Set(["metadata"]);

function materialize(op: Operation, valid: unknown, mutation: Mutation): BodyCase {
  const validText = serialize(valid);
  switch (mutation.kind) {
    case "none":
      return { text: validText, description: "a body derived from the schema, unchanged" };
    case "text": {
      const t = TEXT_BODIES[mutation.which]!;
      const text = typeof t.text === "function" ? t.text(validText) : t.text;
      return { text, description: `raw text: ${t.name}`, expect: t.expect ? { statuses: t.expect, why: t.name } : undefined };
    }
    case "replace": {
      const paths = pathsOf(valid);
      const path = paths[mutation.at % paths.length]!;
      const h = mutation.value;
      const text = serialize(setAt(valid, path, new Raw(hostileText(h))));
      const where = showPath(path);
      const description = `derived body with ${where} replaced by ${hostileName(h)}`;
      const last = path[path.length - 1];
      const inFreeForm = path.some((p) => typeof p === "string" && FREE_FORM.has(p));
      // What the input rules make certainly invalid, wherever it lands.
      if (h.t === "hugeString")
        return {
          text,
          description,
          expect: { statuses: [400, 413, 422], why: "every string field is far shorter than 100 KB (metadata at most 16 KiB of JSON)" },
        };
      if (h.t === "deep")
        return {
          text,
          description,
          expect: {
            statuses: [400, 413, 422],
            why: `nothing may nest deeper than ${RULES.jsonFieldDepth} levels inside a field (${RULES.bodyDepth} for a whole body)`,
          },
        };
      if (h.t === "bigObject")
        return {
          text,
          description,
          expect: {
            statuses: [400, 413, 422],
            why: `an object of ${h.n} keys is larger than ${RULES.jsonFieldBytes} bytes of metadata and fits no other field`,
          },
        };
      if (h.t === "escapedString" && (last === "label" || last === "title") && /surrogate|NUL|control|DEL|C1|newline|only spaces/.test(h.what)) {
        return { text, description, expect: { statuses: [422], why: `a ${last} with ${h.what}` } };
      }
      if (h.t === "scalar" && !inFreeForm && path.length > 0 && ["1e999", "-1e999"].includes(h.raw)) {
        return { text, description, expect: { statuses: [422], why: "no field takes an infinite number" } };
      }
      return { text, description };
    }
    case "remove": {
      const paths = pathsOf(valid).filter((p) => p.length > 0);
      if (paths.length === 0) return { text: validText, description: "derived body (nothing to remove)" };
      const path = paths[mutation.at % paths.length]!;
      return { text: serialize(removeAt(valid, path)), description: `derived body without ${showPath(path)}` };
    }
    case "dropRequired": {
      const target = op.body ? strictTarget(op.body, valid) : undefined;
      const required: string[] = target?.schema.required ?? [];
      if (!target || required.length === 0) return { text: validText, description: "derived body (no required field to drop)" };
      const field = required[mutation.which % required.length]!;
      return {
        text: serialize(removeAt(valid, [...target.path, field])),
        description: `derived body without its required ${showPath([...target.path, field])}`,
        expect: { statuses: [422], why: `required field ${field} is missing` },
      };
    }
    case "invalidField": {
      const candidates = pathsOf(valid).filter((p) => {
        const last = p[p.length - 1];
        return typeof last === "string" && last in INVALID_FIELD_VALUES && !p.slice(0, -1).some((q) => q === "metadata" || q === "label_translations");
      });
      if (candidates.length === 0) return { text: validText, description: "derived body (no field with known invalid values)" };
      const path = candidates[mutation.at % candidates.length]!;
      const values = INVALID_FIELD_VALUES[path[path.length - 1] as string]!;
      const raw = values[mutation.which % values.length]!;
      return {
        text: serialize(setAt(valid, path, new Raw(raw))),
        description: `derived body with ${showPath(path)} = ${raw.length > 80 ? `${raw.slice(0, 60)}… (${raw.length} chars)` : raw}`,
        expect: { statuses: [422], why: `${showPath(path)} = ${raw.slice(0, 40)} is not a valid ${String(path[path.length - 1])} (422 invalid fields)` },
      };
    }
    case "extra": {
      const target = op.body ? strictTarget(op.body, valid) : undefined;
      if (!target) return { text: validText, description: "derived body (no strict object to extend)" };
      const holder = target.path.reduce<any>((v, p) => v[p], valid) as Record<string, unknown>;
      if (mutation.key in holder) return { text: validText, description: "derived body (key exists)" };
      const text = serialize(setAt(valid, target.path, { ...holder, [mutation.key]: new Raw(hostileText(mutation.value)) }));
      return {
        text,
        description: `derived body with an unknown field ${JSON.stringify(mutation.key.slice(0, 40))} at ${showPath(target.path)} = ${hostileName(mutation.value)}`,
        expect: { statuses: [400, 413, 422], why: `unknown fields are refused (422), whatever their value` },
      };
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Setup

beforeAll(async () => {
  stack = await startTestStack({ workers: false, settings: { MAX_BODY_BYTES: String(MAX_BODY_BYTES) } });
  fx = await buildFixture();
  const doc = await call(stack, "GET", "/openapi.json", {});
  expect(doc.status).toBe(200);
  operations = operationsOf(doc.body);
}, 120_000);

afterAll(async () => stack?.stop());

function validTarget(op: Operation, campaignId = fx.a.id): string {
  const segments: Record<string, string> = {};
  for (const p of op.params) segments[p.name] = p.name === "campaignId" ? String(campaignId) : validPool(p.name)[0]!;
  return targetOf(op, segments);
}

const json = (body: unknown) => ({
  body: typeof body === "string" ? body : serialize(body),
  headers: [["Content-Type", "application/json"]] as Array<[string, string]>,
});

async function probe(
  name: string,
  op: string,
  method: string,
  target: string,
  who: Who | CampaignFixture,
  body: string | undefined,
  expectStatuses: number[],
  why: string,
) {
  const request: RawRequest = { method, target, headers: [...authFor(who), ...(body !== undefined ? json(body).headers : [])], body };
  const built: Built = {
    property: name,
    operation: `${method} ${op}`,
    who: typeof who === "object" ? `the labeler of ${who.title}` : who,
    request,
    description: why,
    expect: { statuses: expectStatuses, why },
  };
  lastRefusedAfter = undefined;
  const outcome = await exercise(built);
  if (SURVEY) finishSurvey(name);
  return outcome;
}

// ---------------------------------------------------------------------------------------------------
// Targeted probes (the issue's cases)

describe("hostile input: targeted probes", () => {
  it("the OpenAPI document lists every route the fuzzers cover", () => {
    expect(operations.length).toBeGreaterThanOrEqual(28);
    expect(operations.filter((o) => o.body).length).toBeGreaterThanOrEqual(12);
  });

  it("the storage snapshot sees new entities, blobs and containers, and queued messages", async () => {
    const before = await snapshot();
    const created = await call(stack, "POST", "/image_sets", stack.admin, { title: `${fx.prefix}-snapcheck` });
    expect(created.status).toBe(201);
    await uploadToDropbox(created.body.dropbox_url, "x.png", "x");
    expect((await call(stack, "PUT", `/image_sets/${created.body.imageset_id}`, stack.admin, { new_status: "finished" })).status).toBe(200);
    const changes = diffSnapshots(before, await snapshot(), 1_000).join("\n");
    expect(changes).toMatch(new RegExp(`\\+ entity ${stack.config.table("records")} \\|`));
    expect(changes).toMatch(new RegExp(`\\+ blob dropbox-${fx.prefix}-snapcheck/x\\.png`));
    expect(changes).toMatch(new RegExp(`~ queue ${stack.config.queue("imageset-copy")}: 0 → 1`));
  });

  it("a chunked body over MAX_BODY_BYTES is 413 and changes nothing", async () => {
    const body = JSON.stringify({ title: `${fx.prefix}-chunked`, metadata: { pad: "" } }).replace('""', `"${"p".repeat(MAX_BODY_BYTES)}"`);
    const request: RawRequest = {
      method: "POST",
      target: "/api/v1/image_sets",
      headers: [...authFor("admin"), ["Content-Type", "application/json"]],
      body,
      chunked: true,
    };
    lastRefusedAfter = undefined;
    await exercise({
      property: "chunked probe",
      operation: "POST /image_sets",
      who: "admin",
      request,
      description: `a chunked body of ${body.length} bytes (no Content-Length)`,
      expect: { statuses: [413], why: "413 body over MAX_BODY_BYTES, however it is framed" },
    });
    finishSurvey("chunked probe");
  });

  it("PUT /campaigns/{id}/objects: 55 entries whose last holds ~1.1 MB of polygon points is refused whole, naming the entry", async () => {
    const images = fx.p.imageIds;
    expect(images.length).toBe(55);
    // Polygons of at most 10,000 points each (the per-polygon rule passes), 8 of them: ~1.1 MB of JSON on one image.
    const ring = (offset: number) =>
      Array.from({ length: 9_000 }, (_, i) => [
        Number((500 + offset + 300 * Math.cos(i / 1432)).toFixed(3)),
        Number((500 + 300 * Math.sin(i / 1432)).toFixed(3)),
      ]);
    const batch = images.map((imageId, i) => ({
      image_id: imageId,
      objects: i === images.length - 1 ? Array.from({ length: 8 }, (_, k) => ({ label: "blob", polygon: ring(k) })) : [{ label: "ok", bounding_box: box }],
    }));
    const body = JSON.stringify(batch);
    expect(Buffer.byteLength(body)).toBeGreaterThan(1_100_000);
    expect(Buffer.byteLength(body)).toBeLessThan(MAX_BODY_BYTES);
    const outcome = await probe(
      "objects probe",
      "/campaigns/{campaignId}/objects",
      "PUT",
      `/api/v1/campaigns/${fx.p.id}/objects`,
      fx.p,
      body,
      [413, 422],
      `one image's objects are at most ${RULES.objectsJsonChars} characters of JSON`,
    );
    if (!SURVEY) expect(JSON.parse(outcome.response.text).detail, "the detail names the entry").toMatch(new RegExp(`\\[54\\]|image ${images[54]}\\b`));
  });

  const metadataCases: Array<[string, () => string]> = [
    ["70 KB of metadata", () => JSON.stringify({ blob: "x".repeat(70_000) })],
    ["metadata nested 5,000 deep", () => `${'{"a":'.repeat(5_000)}1${"}".repeat(5_000)}`],
    ["metadata nested 1,000 deep", () => `${'{"a":'.repeat(1_000)}1${"}".repeat(1_000)}`],
    ["metadata nested 21 deep", () => `${'{"a":'.repeat(21)}1${"}".repeat(21)}`],
    ["metadata of 3,000 keys", () => JSON.stringify(Object.fromEntries(Array.from({ length: 3_000 }, (_, i) => [`key${i}`, i])))],
  ];

  for (const [name, metadata] of metadataCases) {
    it(`POST /campaigns with ${name} is refused and creates no labeler, user row or campaign`, async () => {
      const slug = name.replace(/[^a-z0-9]+/gi, "-").toLowerCase();
      const email = `meta-${slug}@example.com`;
      const body = `{"title":"meta-${slug}","labeler_email":"${email}","metadata":${metadata()}}`;
      await probe(
        "metadata probe",
        "/campaigns",
        "POST",
        "/api/v1/campaigns",
        "admin",
        body,
        [400, 413, 422],
        `metadata is at most ${RULES.jsonFieldBytes} bytes of JSON nested at most ${RULES.jsonFieldDepth} deep`,
      );
      if (!SURVEY) {
        const list = await call(stack, "GET", "/campaigns?per_page=1000", stack.admin);
        expect(list.body.campaigns.map((c: any) => c.title)).not.toContain(`meta-${slug}`);
        const rows: unknown[] = [];
        for await (const row of stack.host.services.clients.table("users").listEntities({ queryOptions: { filter: `email eq '${email}'` } })) rows.push(row);
        expect(rows, "user rows for the labeler of the refused campaign").toEqual([]);
      }
    });

    it(`POST /image_sets with ${name} is refused and creates no set and no dropbox`, async () => {
      const slug = name
        .replace(/[^a-z0-9]+/gi, "-")
        .toLowerCase()
        .replace(/^-|-$/g, "")
        .slice(0, 30);
      const title = `${fx.prefix}-${slug}`;
      const body = `{"title":"${title}","metadata":${metadata()}}`;
      await probe(
        "metadata probe",
        "/image_sets",
        "POST",
        "/api/v1/image_sets",
        "admin",
        body,
        [400, 413, 422],
        `metadata is at most ${RULES.jsonFieldBytes} bytes of JSON nested at most ${RULES.jsonFieldDepth} deep`,
      );
      if (!SURVEY) expect(await stack.host.services.clients.blobService.getContainerClient(`dropbox-${title}`).exists()).toBe(false);
    });
  }

  it("POST /campaigns with 70 KB of label_translations is refused and creates nothing", async () => {
    const translations = Object.fromEntries(Array.from({ length: 1_000 }, (_, i) => [`label-${i}-${"x".repeat(30)}`, `ours-${i}-${"y".repeat(30)}`]));
    const body = JSON.stringify({ title: "translations-70kb", labeler_email: "translations-70kb@example.com", label_translations: translations });
    expect(body.length).toBeGreaterThan(70_000);
    await probe(
      "metadata probe",
      "/campaigns",
      "POST",
      "/api/v1/campaigns",
      "admin",
      body,
      [400, 413, 422],
      `label_translations is at most ${RULES.jsonFieldBytes} bytes of JSON`,
    );
  });

  const badLabels: Array<[string, string]> = [
    ["a NUL byte", '"Plas\\u0000tic"'],
    ["a BEL", '"bell\\u0007"'],
    ["a tab", '"tab\\tbed"'],
    ["a newline", '"two\\nlines"'],
    ["an ESC sequence", '"\\u001b[31mred"'],
    ["DEL", '"del\\u007f"'],
    ["a C1 control (U+0085)", '"next\\u0085line"'],
    ["a C1 control (U+009F)", '"apc\\u009f"'],
    ["a lone surrogate", '"half\\ud800"'],
    ["257 characters", JSON.stringify("L".repeat(257))],
    ["only spaces", '"    "'],
  ];
  for (const [name, label] of badLabels) {
    it(`a label holding ${name} is 422 and stores nothing`, async () => {
      const body = `[{"image_id":${fx.t.imageIds[0]},"objects":[{"label":${label},"bounding_box":{"xmin":1,"xmax":5,"ymin":1,"ymax":5}}]}]`;
      await probe(
        "label probe",
        "/campaigns/{campaignId}/objects",
        "PUT",
        `/api/v1/campaigns/${fx.t.id}/objects`,
        fx.t,
        body,
        [422],
        `labels are 1-${RULES.labelLength} characters after trimming, with no control characters (${name})`,
      );
    });
  }

  it('new_status "created" on an active campaign is 409, "bogus" is 422, and neither changes anything', async () => {
    await probe(
      "status probe",
      "/campaigns/{campaignId}",
      "PUT",
      `/api/v1/campaigns/${fx.t.id}`,
      "admin",
      '{"new_status":"created"}',
      [409],
      "created is a status, but an active campaign cannot go back to it",
    );
    await probe(
      "status probe",
      "/campaigns/{campaignId}",
      "PUT",
      `/api/v1/campaigns/${fx.t.id}`,
      "admin",
      '{"new_status":"bogus"}',
      [422],
      "bogus is not a status",
    );
  });

  it("a partner key reaching for another campaign's images, objects or image ids gets 404 and changes nothing", async () => {
    const own = fx.s1;
    const other = fx.s2;
    const otherImage = other.imageIds[0]!;
    const cases: Array<[string, string, string, string | undefined, number[]]> = [
      ["/campaigns/{campaignId}/images", "GET", `/api/v1/campaigns/${other.id}/images`, undefined, [404]],
      ["/campaigns/{campaignId}/images", "GET", `/api/v1/campaigns/${other.id}/images?label_status=user_complete`, undefined, [404]],
      ["/campaigns/{campaignId}/objects", "PUT", `/api/v1/campaigns/${other.id}/objects`, `[{"image_id":${otherImage},"objects":[]}]`, [404]],
      [
        "/campaigns/{campaignId}/objects",
        "PUT",
        `/api/v1/campaigns/${other.id}/objects`,
        `[{"image_id":${otherImage},"objects":[{"label":"x","bounding_box":{"xmin":1,"xmax":5,"ymin":1,"ymax":5}}]}]`,
        [404],
      ],
      ["/images/{imageId}", "GET", `/api/v1/images/${otherImage}`, undefined, [404]],
      ["/images/{imageId}", "GET", `/api/v1/images/${other.imageIds[1]}`, undefined, [404]],
      // Admin-only routes: the role check (403) or the same 404.
      ["/campaigns/{campaignId}/objects", "GET", `/api/v1/campaigns/${other.id}/objects`, undefined, [403, 404]],
      ["/images/{imageId}/objects", "GET", `/api/v1/images/${otherImage}/objects`, undefined, [403, 404]],
      ["/campaigns/{campaignId}/images/{imageId}/history", "GET", `/api/v1/campaigns/${other.id}/images/${otherImage}/history`, undefined, [403, 404]],
      // Its own campaign, but the other campaign's image id: refused whole, naming the entry.
      ["/campaigns/{campaignId}/objects", "PUT", `/api/v1/campaigns/${own.id}/objects`, `[{"image_id":${otherImage},"objects":[]}]`, [404, 422]],
    ];
    for (const [op, method, target, body, statuses] of cases) {
      const outcome = await probe("scope probe", op, method, target, own, body, statuses, "a labeler sees nothing outside its campaigns");
      if (!SURVEY && outcome.response.status < 500)
        expect(outcome.response.text, `${method} ${target} leaks the other campaign's title`).not.toContain(other.title);
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// Properties

interface PathCase {
  op: Operation;
  segments: Record<string, Segment>;
  query: Array<[string, string]>;
  who: Who;
  body: unknown;
}

const showPathCase = <T extends PathCase>(c: T): T =>
  Object.assign(c, {
    [fc.toStringMethod]: () =>
      `${c.op.method} ${targetOf(c.op, Object.fromEntries(Object.entries(c.segments).map(([k, s]) => [k, s.text])), c.query).slice(0, 300)} as ${c.who}${c.body !== undefined ? ` with ${serialize(c.body).slice(0, 200)}` : ""}`,
  });

describe("hostile input: properties over every route of the OpenAPI document", () => {
  it("hostile path parameters and query strings: never a 5xx, 4xx answers are JSON details, refusals change nothing", async () => {
    const cases = fc
      .nat(operations.length - 1)
      .chain((i) => {
        const op = operations[i]!;
        return fc.record({
          op: fc.constant(op),
          segments: fc.record(Object.fromEntries(op.params.map((p) => [p.name, segmentArb(p.name, p.integer)]))),
          query: op.query.length ? queryArb(op) : fc.constant<Array<[string, string]>>([]),
          who: fc.constantFrom<Who>("admin", "admin", "admin", "partnerA"),
          body: op.body ? arbFromSchema(op, op.body) : fc.constant(undefined),
        });
      })
      .map(showPathCase);
    await runProperty("paths", 1, 300, 0.25, cases, async ({ op, segments, query, who, body }) => {
      const texts = Object.fromEntries(Object.entries(segments).map(([k, s]) => [k, s.text]));
      const notAnId = op.params.find((p) => !mayExist(p, texts[p.name]!));
      const badPage = query.find(([k, v]) => (k === "page" || k === "per_page") && (BAD_PAGE_VALUES.has(v) || (k === "per_page" && v === "1001")));
      const request: RawRequest = {
        method: op.method,
        target: targetOf(op, texts, query),
        headers: [...authFor(who), ...(body !== undefined ? json(body).headers : [])],
        body: body === undefined ? undefined : serialize(body),
      };
      await exercise({
        property: `paths (seed ${SEED + 1})`,
        operation: `${op.method} ${op.template}`,
        who,
        request,
        description: `path parameters ${JSON.stringify(Object.fromEntries(Object.entries(segments).map(([k, s]) => [k, `${s.kind}: ${s.text.slice(0, 60)}`])))}, query ${JSON.stringify(query).slice(0, 200)}`,
        mustRefuse: notAnId ? `path parameter ${notAnId.name} = ${JSON.stringify(texts[notAnId.name]!.slice(0, 80))} cannot name anything` : undefined,
        expect:
          !notAnId && badPage && who === "admin" && op.query.some((q) => q.name === badPage[0]) && query.filter(([k]) => k === badPage[0]).length === 1
            ? { statuses: [422], why: `${badPage[0]}=${badPage[1].slice(0, 40)} is not a valid ${badPage[0]}` }
            : undefined,
      });
    });
    finishSurvey("paths");
  });

  it("dot segments and encoded slashes in a path parameter are refused on every route, never routed elsewhere", async () => {
    // Exhaustive rather than sampled (4 values × every route with a parameter); every broken request is listed.
    const failures: string[] = [];
    lastRefusedAfter = undefined;
    for (const op of operations.filter((o) => o.params.length)) {
      for (const text of ["%2E%2E", "..", "%2e", "%2F"]) {
        for (const [index, param] of op.params.entries()) {
          const segments = Object.fromEntries(op.params.map((p, i) => [p.name, i === index ? text : validPool(p.name)[0]!]));
          const body = op.body ? serialize(fc.sample(arbFromSchema(op, op.body), { seed: SEED, numRuns: 1 })[0]) : undefined;
          try {
            await exercise({
              property: "dot segments",
              operation: `${op.method} ${op.template}`,
              who: "admin",
              request: {
                method: op.method,
                target: targetOf(op, segments),
                headers: [...authFor("admin"), ...(body !== undefined ? json(body).headers : [])],
                body,
              },
              description: `path parameter ${param.name} = ${text}`,
              mustRefuse: `path parameter ${param.name} = ${JSON.stringify(text)} cannot name anything`,
            });
          } catch (error) {
            failures.push(error instanceof Error ? error.message : String(error));
          }
        }
      }
    }
    finishSurvey("dot segments");
    if (failures.length) throw new Error(`${failures.length} request(s) broke the rules:\n\n${failures.join("\n\n")}`);
  });

  it("wrong methods on known paths are 405 with a JSON detail and change nothing", async () => {
    const templates = [...new Set(operations.map((o) => o.template))];
    const cases = fc
      .record({
        template: fc.constantFrom(...templates),
        method: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "PROPFIND"),
        auth: fc.constantFrom<Who>("admin", "anonymous", "partnerA"),
        withBody: fc.boolean(),
      })
      .filter(({ template, method }) => !operations.some((o) => o.template === template && o.method === method));
    await runProperty("methods", 2, 80, 0.12, cases, async ({ template, method, auth, withBody }) => {
      const op = operations.find((o) => o.template === template)!;
      const target = validTarget(op);
      const body = withBody ? '{"new_status":"active","title":"x"}' : undefined;
      await exercise({
        property: `methods (seed ${SEED + 2})`,
        operation: `${method} ${template}`,
        who: auth,
        request: { method, target, headers: [...authFor(auth), ...(body ? json(body).headers : [])], body },
        description: `${method} is not among the path's methods (${operations
          .filter((o) => o.template === template)
          .map((o) => o.method)
          .join(", ")})`,
        expect: { statuses: [405], why: "405 wrong method" },
      });
    });
    finishSurvey("methods");
  });

  it("hostile credentials: missing, empty, huge, unicode, control characters, another campaign's partner key", async () => {
    const cases = fc
      .record({
        op: fc.constantFrom(...operations),
        variant: fc.constantFrom(...AUTH_VARIANTS),
        campaign: fc.constantFrom<"own" | "other">("own", "other"),
      })
      .map((c) => Object.assign(c, { [fc.toStringMethod]: () => `${c.op.method} ${c.op.template} with ${c.variant.name} (${c.campaign} campaign)` }));
    const sampleBodies = new Map(
      operations.filter((o) => o.body).map((o) => [o.operationId, fc.sample(arbFromSchema(o, o.body), { seed: SEED, numRuns: 1 })[0]]),
    );
    await runProperty("credentials", 3, 200, 0.3, cases, async ({ op, variant, campaign }) => {
      const campaignId = campaign === "own" ? fx.a.id : fx.b.id;
      const segments: Record<string, string> = {};
      for (const p of op.params) {
        if (p.name === "campaignId") segments[p.name] = String(campaignId);
        else if (p.name === "imageId") segments[p.name] = String((campaign === "own" ? fx.a : fx.b).imageIds[0]);
        else segments[p.name] = validPool(p.name)[0]!;
      }
      const body = op.body ? serialize(sampleBodies.get(op.operationId)) : undefined;
      let expectStatuses: number[] | undefined;
      let why = "";
      const scoped = op.params.some((p) => p.name === "campaignId" || p.name === "imageId");
      if (op.access === "public") {
        if (variant.kind === "parser") [expectStatuses, why] = [[400], "the HTTP layer refuses control characters in header values"];
        else if (variant.kind === "oversized") [expectStatuses, why] = [[431], "headers over the server's limit"];
      } else if (variant.kind === "bad") [expectStatuses, why] = [[401], "401 without a valid key/secret pair"];
      else if (variant.kind === "parser") [expectStatuses, why] = [[400, 401], "control characters in a credential header"];
      else if (variant.kind === "oversized") [expectStatuses, why] = [[431, 400, 401], "a credential header over the server's header limit"];
      else if (variant.kind === "partnerA") {
        if (op.access === "admin") [expectStatuses, why] = [[403], "403 for a known key without the role"];
        else if (scoped && campaign === "other") [expectStatuses, why] = [[404], "404 where a partner asks for something outside its campaigns"];
      }
      const request: RawRequest = {
        method: op.method,
        target: targetOf(op, segments),
        headers: [...variant.headers(), ...(body !== undefined ? json(body).headers : [])],
        body,
      };
      await exercise({
        property: `credentials (seed ${SEED + 3})`,
        operation: `${op.method} ${op.template}`,
        who: variant.name,
        request,
        description: `${variant.name} on ${campaign === "own" ? "campaign A (partner A's)" : "campaign B (not partner A's)"}`,
        expect: expectStatuses ? { statuses: expectStatuses, why } : undefined,
      });
    });
    finishSurvey("credentials");
  });

  it("hostile bodies on every route with a request body: derived from the schema, then mutated", async () => {
    const bodyOps = operations.filter((o) => o.body);
    const cases = fc
      .nat(bodyOps.length - 1)
      .chain((i) => {
        const op = bodyOps[i]!;
        const campaigns = [fx.a, fx.b, fx.c];
        return fc.record({
          op: fc.constant(op),
          ctx:
            op.operationId === "submitCampaignObjects"
              ? fc.constantFrom<{ who: Who; campaign: CampaignFixture }>(
                  { who: "partnerA", campaign: fx.a },
                  { who: "admin", campaign: fx.a },
                  { who: "admin", campaign: fx.b },
                )
              : fc.constantFrom(...campaigns.map((c) => ({ who: "admin" as const, campaign: c }))),
          valid: arbFromSchema(op, op.body),
          mutation: mutationArb,
          contentType: fc.constantFrom("application/json", "application/json", "application/json", "text/plain", "none", "application/json; charset=utf-16"),
        });
      })
      .map((c) =>
        Object.assign(c, {
          [fc.toStringMethod]: () =>
            `${c.op.method} ${c.op.template} on ${c.ctx.campaign.title} as ${c.ctx.who}: ${materialize(c.op, c.valid, c.mutation).description.slice(0, 300)} [content-type ${c.contentType}]`,
        }),
      );
    await runProperty("bodies", 4, 500, 0.6, cases, async ({ op, ctx, valid, mutation, contentType }) => {
      const bodyCase = materialize(op, valid, mutation);
      const segments: Record<string, string> = {};
      for (const p of op.params) segments[p.name] = p.name === "campaignId" ? String(ctx.campaign.id) : validPool(p.name)[0]!;
      const headers: Array<[string, string]> = [
        ...authFor(ctx.who),
        ...(contentType === "none" ? [] : ([["Content-Type", contentType]] as Array<[string, string]>)),
      ];
      await exercise({
        property: `bodies (seed ${SEED + 4})`,
        operation: `${op.method} ${op.template}`,
        who: ctx.who,
        request: { method: op.method, target: targetOf(op, segments), headers, body: bodyCase.text },
        description: `${bodyCase.description} (campaign ${ctx.campaign.title}, content-type ${contentType})`,
        // A partner's access ends once its campaign is finishing (earlier runs may have finished it): 403 first is fine.
        expect: bodyCase.expect && ctx.who !== "admin" ? { ...bodyCase.expect, statuses: [...bodyCase.expect.statuses, 403] } : bodyCase.expect,
      });
    });
    finishSurvey("bodies");
  });

  it("bodies just over MAX_BODY_BYTES are 413 and change nothing; bodies at the limit are not 413", async () => {
    const bodyOps = operations.filter((o) => o.body);
    const cases = fc.record({
      op: fc.constantFrom(...bodyOps),
      over: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 4096 })),
      shape: fc.constantFrom("padded valid JSON", "one long string", "long array"),
    });
    await runProperty("body limit", 5, 24, 1, cases, async ({ op, over, shape }) => {
      const size = MAX_BODY_BYTES + over;
      const valid = serialize(fc.sample(arbFromSchema(op, op.body), { seed: SEED, numRuns: 1 })[0]);
      let text: string;
      if (shape === "padded valid JSON") text = `${valid}${" ".repeat(Math.max(0, size - Buffer.byteLength(valid)))}`;
      else if (shape === "one long string") text = `"${"x".repeat(size - 2)}"`;
      else {
        const array = `[${"0,".repeat(Math.floor((size - 3) / 2))}0]`;
        text = `${array}${" ".repeat(size - array.length)}`;
      }
      const bytes = Buffer.byteLength(text);
      await exercise({
        property: `body limit (seed ${SEED + 5})`,
        operation: `${op.method} ${op.template}`,
        who: "admin",
        request: { method: op.method, target: validTarget(op), headers: [...authFor("admin"), ["Content-Type", "application/json"]], body: text },
        description: `${shape}, ${bytes} bytes (MAX_BODY_BYTES = ${MAX_BODY_BYTES})`,
        expect:
          bytes > MAX_BODY_BYTES
            ? { statuses: [413], why: "413 body over MAX_BODY_BYTES" }
            : { statuses: [200, 201, 202, 400, 404, 409, 422], why: "a body at the limit is read and judged, not refused as too large" },
      });
    });
    finishSurvey("body limit");
  });
});
