/**
 * Storage errors classified by HTTP status and service error code, never by message text. The code is on
 * `error.code` for transactions and on `error.details.odataError.code` for single operations (both seen
 * on Azure and Azurite).
 */

/** Status code of an Azure SDK RestError, or undefined for anything else. */
export function statusOf(error: unknown): number | undefined {
  return typeof error === "object" && error !== null && "statusCode" in error && typeof error.statusCode === "number" ? error.statusCode : undefined;
}

/** The storage service's error code (e.g. `EntityAlreadyExists`, `UpdateConditionNotSatisfied`), when it gave one. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const { code, details } = error as { code?: unknown; details?: { odataError?: { code?: unknown }; errorCode?: unknown } };
  const found = typeof code === "string" ? code : (details?.odataError?.code ?? details?.errorCode);
  return typeof found === "string" ? found : undefined;
}

/** Codes the HTTP pipeline puts on a RestError (from Node's socket error) when no answer came back at all. */
const TRANSPORT_FAILURES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EAI_AGAIN", "REQUEST_SEND_ERROR"]);

/**
 * Storage could not serve the request and a retry later may succeed: the service answered 500 or 503, or
 * no answer came back (connection refused, reset or timed out, classified by the error's code).
 */
export function isUnavailable(error: unknown): boolean {
  const status = statusOf(error);
  if (status === 500 || status === 503) return true;
  if (status !== undefined) return false;
  const code = errorCode(error);
  return code !== undefined && TRANSPORT_FAILURES.has(code);
}

/** Whatever was addressed does not exist: 404, be it an entity, a table, a blob or a container. */
export const isNotFound = (error: unknown) => statusOf(error) === 404;

/**
 * Someone else wrote first: 409 (the entity exists) or 412 (its ETag changed), for single operations and
 * entity-group transactions alike (a transaction fails whole with the status of the operation that failed).
 */
export const isConflict = (error: unknown) => statusOf(error) === 409 || statusOf(error) === 412;

/** Pads a non-negative integer so that row keys sort numerically. */
export function pad(n: number, width = 12): string {
  return String(n).padStart(width, "0");
}

/** Row and partition keys may not hold `/ \ # ?` or control characters; this maps any string to a safe, reversible form. */
export function encodeKey(value: string): string {
  return Buffer.from(value, "utf8").toString("base64url");
}
