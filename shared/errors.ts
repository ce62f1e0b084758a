/** A failure the client caused or must know about; becomes the contract's JSON error `{status, detail}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail);
    this.name = "ApiError";
  }
}

/** 400: a body that cannot be read at all (empty, not JSON, nested too deep); `extra` fields join the error body. */
export const badRequest = (detail: string, extra?: Record<string, unknown>) => new ApiError(400, detail, extra);
/** 401: no key and secret, or a pair that matches no user. */
export const unauthorized = (detail = "missing or invalid Authentication-Key / Authentication-Secret") => new ApiError(401, detail);
/** 403: the key is valid but its role or campaign scope does not allow this. */
export const forbidden = (detail = "this key may not do that") => new ApiError(403, detail);
/** 404: no such resource (also what a labeler sees for a campaign outside its scope). */
export const notFound = (detail: string) => new ApiError(404, detail);
/** 409: valid input the resource's current state refuses (its status, a taken title or output folder). */
export const conflict = (detail: string, extra?: Record<string, unknown>) => new ApiError(409, detail, extra);
/** 413: a request body over `limit` bytes, refused before it is parsed. */
export const payloadTooLarge = (limit: number) => new ApiError(413, `request body is larger than ${limit} bytes`);
/** 422: well-formed input that breaks a rule (schema, title, unknown references); `extra` may list the issues. */
export const unprocessable = (detail: string, extra?: Record<string, unknown>) => new ApiError(422, detail, extra);
/** 503: a write or the queue failed before the request took effect; the client may simply send it again. */
export const unavailable = (detail: string) => new ApiError(503, detail);

/** A job failure that retrying cannot fix: the worker marks its resource failed at once instead of retrying. */
export class PermanentJobError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PermanentJobError";
  }
}

/** Lost an optimistic-concurrency race too many times in a row. */
export class ConcurrencyError extends Error {
  constructor(what: string) {
    super(`gave up after repeated concurrent updates of ${what}`);
    this.name = "ConcurrencyError";
  }
}

/** An error's message; for one without a message (some storage errors), its name, status and code instead. */
export function errorMessage(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.message.trim()) return error.message;
  const { statusCode, code } = error as { statusCode?: unknown; code?: unknown };
  return [error.name, typeof statusCode === "number" ? `status ${statusCode}` : "", typeof code === "string" ? code : ""].filter(Boolean).join(", ");
}
