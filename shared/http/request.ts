import { z } from "zod";
import { LIMITS, jsonTextDepth } from "../domain/inputRules.js";
import { ApiError, badRequest, payloadTooLarge, unprocessable } from "../errors.js";

/** The part of `@azure/functions`' HttpRequest that handlers use (kept structural so shared/ does not import the host library). */
export interface RequestLike {
  readonly method: string;
  readonly url: string;
  readonly headers: Headers;
  readonly query: URLSearchParams;
  readonly params: Record<string, string>;
  text(): Promise<string>;
}

/** The plain response object both hosts accept (`HttpResponseInit`). */
export interface ResponseInit {
  status: number;
  jsonBody?: unknown;
  body?: string;
  headers?: Record<string, string>;
}

/** A JSON response with this status and body. */
export const json = (status: number, body: unknown): ResponseInit => ({ status, jsonBody: body });
/** 200 with the JSON string `"ok"`: the contract's answer to a change that returns nothing. */
export const ok = (): ResponseInit => json(200, "ok");

/** Reads and parses a JSON body, refusing oversized and overly nested bodies before parsing them. */
export async function readJson(request: RequestLike, maxBytes: number): Promise<unknown> {
  const declared = Number(request.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > maxBytes) throw payloadTooLarge(maxBytes);
  const text = await request.text();
  if (Buffer.byteLength(text) > maxBytes) throw payloadTooLarge(maxBytes);
  if (text.trim() === "") throw badRequest("request body is empty; a JSON body is required");
  // Checked on the text: parsing and validating a hostile nesting would recurse as deep as it goes.
  if (jsonTextDepth(text) > LIMITS.bodyDepth) throw badRequest(`request body nests deeper than ${LIMITS.bodyDepth} levels`);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw badRequest(`request body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Formats zod issues as one readable sentence naming each offending path. */
export function describeIssues(error: z.ZodError, root = "body"): string {
  return error.issues
    .slice(0, 10)
    .map((issue) => {
      const path = issue.path.length ? `${root}${issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("")}` : root;
      return `${path}: ${issue.message}`;
    })
    .join("; ");
}

/** The value as the schema parses it; a mismatch is a 422 naming each offending path under `root`, with up to 50 issues in `errors`. */
export function validate<T>(schema: z.ZodType<T>, value: unknown, root = "body"): T {
  const result = schema.safeParse(value);
  if (!result.success)
    throw unprocessable(describeIssues(result.error, root), { errors: result.error.issues.slice(0, 50).map((i) => ({ path: i.path, message: i.message })) });
  return result.data;
}

/** The JSON body, parsed and validated: 413 over `maxBytes`, 400 when unreadable, 422 when the schema refuses it. */
export async function readBody<T>(request: RequestLike, schema: z.ZodType<T>, maxBytes: number): Promise<T> {
  return validate(schema, await readJson(request, maxBytes));
}

/** Reads a positive integer route parameter; the route template already constrains it, this guards direct calls. */
export function idParam(request: RequestLike, name: string): number {
  const raw = request.params[name] ?? "";
  if (!/^[1-9][0-9]{0,14}$/.test(raw)) throw new ApiError(404, `no resource with ${name} ${JSON.stringify(raw)}`);
  return Number(raw);
}

/** The query string as a plain object, for validating with a schema; a repeated key keeps its last value. */
export function queryObject(request: RequestLike): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of request.query) result[key] = value;
  return result;
}
