/** Status code of an Azure SDK RestError, or undefined for anything else. */
export function statusOf(error: unknown): number | undefined {
  return typeof error === "object" && error !== null && "statusCode" in error && typeof error.statusCode === "number"
    ? error.statusCode
    : undefined;
}

export const isNotFound = (error: unknown) => statusOf(error) === 404;
/** 409 (entity exists) or 412 (ETag changed): someone else wrote first. */
export const isConflict = (error: unknown) => statusOf(error) === 409 || statusOf(error) === 412;

/** Pads a non-negative integer so that row keys sort numerically. */
export function pad(n: number, width = 12): string {
  return String(n).padStart(width, "0");
}

/** Row and partition keys may not hold `/ \ # ?` or control characters; this maps any string to a safe, reversible form. */
export function encodeKey(value: string): string {
  return Buffer.from(value, "utf8").toString("base64url");
}

