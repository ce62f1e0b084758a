import { z } from "zod";
import { contractTimestamp } from "./time.js";

/**
 * A labeler key's lifecycle fields as stored on its user row: revoked (when) and an optional expiry, both
 * contract timestamps or empty.
 */
export interface KeyLifecycle {
  revokedAt?: string | null;
  expiresAt?: string | null;
}

/** Whether a key may sign in now: `active`, or why not (`revoked` wins over `expired`). */
export type KeyState = "active" | "revoked" | "expired";

/** A key's state at `now` (ms): revoked once revokedAt is set; expired from expiresAt on (an expiry in the past is allowed and means expired). */
export function keyState(key: KeyLifecycle, now: number): KeyState {
  if (key.revokedAt) return "revoked";
  if (key.expiresAt && Date.parse(key.expiresAt) <= now) return "expired";
  return "active";
}

/** How often at most a key's `last used` time is written: about once a minute per key, never on every request. */
export const LAST_USED_INTERVAL_MS = 60_000;

/** Whether a request signed at `now` should write the key's last use (never written, or last written a minute or more ago). */
export function lastUseDue(lastUsedAt: string | null | undefined, now: number): boolean {
  if (!lastUsedAt) return true;
  const at = Date.parse(lastUsedAt);
  return !Number.isFinite(at) || now - at >= LAST_USED_INTERVAL_MS;
}

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * An ISO 8601 timestamp with a date, a time and a zone (`Z` or `±hh:mm`), as the contract's timestamp in UTC,
 * or null when the text is not one or names no real moment (February 30th, hour 24, a year before 1970).
 */
export function parseTimestamp(text: string): string | null {
  const m = TIMESTAMP.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? "0"].map(Number) as [number, number, number, number, number, number];
  const zone = m[8]!;
  const calendar = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  if (
    year < 1970 ||
    calendar.getUTCFullYear() !== year ||
    calendar.getUTCMonth() !== month - 1 ||
    calendar.getUTCDate() !== day ||
    calendar.getUTCHours() !== hour ||
    calendar.getUTCMinutes() !== minute ||
    calendar.getUTCSeconds() !== second
  )
    return null;
  if (zone !== "Z" && (Number(zone.slice(1, 3)) > 23 || Number(zone.slice(4)) > 59)) return null;
  const ms = Date.parse(text);
  if (!Number.isFinite(ms)) return null;
  return contractTimestamp(new Date(ms));
}

/**
 * `PATCH /labelers/{apikey}`: an expiry (a timestamp, possibly in the past, which expires the key at once;
 * null removes it) and/or the revoked flag (false restores a revoked key, true revokes it like DELETE).
 */
export const updateLabelerSchema = z
  .object({
    expires_at: z
      .string()
      .max(64)
      .nullable()
      .optional()
      .refine((value) => value === null || value === undefined || parseTimestamp(value) !== null, {
        message: "expires_at must be an ISO 8601 timestamp with a time zone, e.g. 2027-01-31T00:00:00Z, or null",
      }),
    revoked: z.boolean().optional(),
  })
  .strict()
  .refine((body) => body.expires_at !== undefined || body.revoked !== undefined, { message: "send expires_at and/or revoked" });

/** The `PATCH /labelers/{apikey}` body. */
export type LabelerUpdate = z.infer<typeof updateLabelerSchema>;
