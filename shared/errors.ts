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

export const badRequest = (detail: string, extra?: Record<string, unknown>) => new ApiError(400, detail, extra);
export const unauthorized = (detail = "missing or invalid Authentication-Key / Authentication-Secret") =>
  new ApiError(401, detail);
export const forbidden = (detail = "this key may not do that") => new ApiError(403, detail);
export const notFound = (detail: string) => new ApiError(404, detail);
export const conflict = (detail: string, extra?: Record<string, unknown>) => new ApiError(409, detail, extra);
export const payloadTooLarge = (limit: number) => new ApiError(413, `request body is larger than ${limit} bytes`);
export const unprocessable = (detail: string, extra?: Record<string, unknown>) => new ApiError(422, detail, extra);
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
