import { createHmac, randomBytes } from "node:crypto";

/** How a signing secret is shown (Standard Webhooks): `whsec_` and the base64 of the key's bytes. */
export const SECRET_PREFIX = "whsec_";
/** Random bytes in a new signing key: the specification asks for 24 to 64; 32 is SHA-256's own size. */
const SECRET_BYTES = 32;

/** A new signing secret, `whsec_<base64 of 32 random bytes>`; shown to the admin once, stored to sign with. */
export function newWebhookSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString("base64");
}

/**
 * The Standard Webhooks symmetric signature of one attempt: `v1,<base64 HMAC-SHA256>` of `<id>.<timestamp>.<body>`,
 * keyed with the base64-decoded secret after its `whsec_` prefix. The id and timestamp are ours (no `.` in either).
 */
export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, "base64");
  return `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.${body}`, "utf8").digest("base64")}`;
}

/** The three Standard Webhooks headers of an attempt made at `timestamp` (unix seconds). */
export function webhookHeaders(secret: string, id: string, timestamp: number, body: string): Record<string, string> {
  return { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signWebhook(secret, id, timestamp, body) };
}
