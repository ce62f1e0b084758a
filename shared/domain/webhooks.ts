/**
 * Webhook rules without I/O: the events and when each is emitted, the request schemas, what a target URL and
 * address may be, ids, and the retry schedule. The README's "Webhooks" section states the same.
 */
import { z } from "zod";
import type { CampaignStatus } from "./campaigns.js";
import type { ImageSetStatus } from "./imageSets.js";

/** The events a subscription may ask for. `webhook.ping` is sent by `POST /webhooks/{id}/ping` only, whatever the subscription asks for. */
export const WEBHOOK_EVENTS = [
  "imageset.finished",
  "imageset.failed",
  "campaign.activated",
  "campaign.completed",
  "campaign.finished",
  "campaign.finish_failed",
  "image.rejected",
  "export.succeeded",
  "export.failed",
] as const;
/** An event a subscription may ask for. */
export type SubscribableEvent = (typeof WEBHOOK_EVENTS)[number];
/** Every event type, the ping included. */
export type WebhookEventType = SubscribableEvent | "webhook.ping";
/** In `events`: every event, present and future. */
export const ALL_EVENTS = "*";

/** The CloudEvents `type` of an event: reverse-DNS prefixed, as the CloudEvents spec recommends (`com.labelpipeline.campaign.completed`). */
export const cloudEventType = (type: WebhookEventType) => `com.labelpipeline.${type}`;

/** Whether a subscription's `events` list asks for `type` (a ping goes to every subscription it is sent to). */
export function wantsEvent(events: readonly string[], type: WebhookEventType): boolean {
  return type === "webhook.ping" || events.includes(ALL_EVENTS) || events.includes(type);
}

/**
 * The event a campaign's status change announces, if any. Only changes a job or a request makes on purpose count:
 * `created|completed → active` (activated, also a reopen), `active → completed`, `finishing → finished` and
 * `finishing → finish_failed`. A store write that keeps the status (a duplicate job delivery) announces nothing.
 */
export function campaignEventOf(from: CampaignStatus, to: CampaignStatus): SubscribableEvent | undefined {
  if (from === to) return undefined;
  if (to === "active" && (from === "created" || from === "completed")) return "campaign.activated";
  if (to === "completed" && from === "active") return "campaign.completed";
  if (to === "finished" && from === "finishing") return "campaign.finished";
  if (to === "finish_failed" && from === "finishing") return "campaign.finish_failed";
  return undefined;
}

/** The event an image set's status change announces: the copy job ending, `processing → finished | failed`. */
export function imageSetEventOf(from: ImageSetStatus, to: ImageSetStatus): SubscribableEvent | undefined {
  if (from !== "processing" || from === to) return undefined;
  if (to === "finished") return "imageset.finished";
  if (to === "failed") return "imageset.failed";
  return undefined;
}

/** The event an export's status change announces: reaching `succeeded` or `failed` from another status. */
export function exportEventOf(from: string, to: string): SubscribableEvent | undefined {
  if (from === to) return undefined;
  if (to === "succeeded") return "export.succeeded";
  if (to === "failed") return "export.failed";
  return undefined;
}

// ---------------------------------------------------------------------------------------------------
// Ids

/** `wh_` and 16 hex digits. */
export const WEBHOOK_ID = /^wh_[0-9a-f]{16}$/;
/** `evt_<yyyymmddhhmmssSSS>_<12 hex>`: sorts by time. */
export const EVENT_ID = /^evt_([0-9]{17})_[0-9a-f]{12}$/;
/**
 * `msg_<yyyymmddhhmmssSSS of the event>_<16 hex>`: the delivery of one event to one subscription, the same on
 * every attempt (the Standard Webhooks `webhook-id`). No `.`, which the signed content uses as its separator.
 */
export const DELIVERY_ID = /^msg_([0-9]{17})_[0-9a-f]{16}$/;

/** The time part of an event id: `yyyymmddhhmmssSSS` in UTC. */
export function eventIdTime(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:TZ.]/g, "")
    .slice(0, 17);
}

/** The day (`yyyymmdd`) a delivery id's event happened: the group its key row lives in. */
export function deliveryDay(deliveryId: string): string {
  const match = DELIVERY_ID.exec(deliveryId);
  if (!match) throw new RangeError(`not a delivery id: ${deliveryId}`);
  return match[1]!.slice(0, 8);
}

// ---------------------------------------------------------------------------------------------------
// Retries

/** The Standard Webhooks example schedule cut at about a day: after the first attempt, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h. */
export const DEFAULT_RETRY_SCHEDULE = "5,300,1800,7200,18000,36000,36000";
/** The longest wait between two attempts: a Storage-queue message stays invisible at most 7 days. */
export const MAX_RETRY_DELAY_SECONDS = 7 * 86_400;

/** Why a retry schedule setting (seconds, comma-separated) is not one, or null: 0-20 whole numbers of 1 s to 7 days. */
export function retryScheduleProblem(text: string): string | null {
  if (text.trim() === "") return null; // no retries at all
  const parts = text.split(",").map((p) => p.trim());
  if (parts.length > 20) return "holds more than 20 delays";
  const bad = parts.find((p) => !/^[0-9]{1,7}$/.test(p) || Number(p) < 1 || Number(p) > MAX_RETRY_DELAY_SECONDS);
  return bad === undefined ? null : `holds ${JSON.stringify(bad)}; each delay is a whole number of seconds from 1 to ${MAX_RETRY_DELAY_SECONDS}`;
}

/** The delays of a valid schedule setting, in seconds. */
export function parseRetrySchedule(text: string): number[] {
  return text.trim() === "" ? [] : text.split(",").map((p) => Number(p.trim()));
}

/**
 * Seconds to wait before retry number `retry` (0 = the one after the first failed attempt), with up to 10% added at
 * random so receivers that failed together are not all retried in the same second; undefined once the schedule is
 * used up (the delivery has failed for good).
 */
export function retryDelaySeconds(schedule: readonly number[], retry: number, random: () => number = Math.random): number | undefined {
  const base = schedule[retry];
  if (base === undefined) return undefined;
  return Math.min(MAX_RETRY_DELAY_SECONDS, Math.round(base * (1 + 0.1 * random())));
}

// ---------------------------------------------------------------------------------------------------
// Target addresses

function parseIPv4(text: string): number[] | undefined {
  const parts = text.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255)) return undefined;
  return parts.map(Number);
}

/** An IPv6 address as 16 bytes (`::`, a dotted IPv4 tail and a zone id allowed); undefined when it is not one. */
function parseIPv6(text: string): number[] | undefined {
  let input = text.toLowerCase();
  const zone = input.indexOf("%");
  if (zone >= 0) input = input.slice(0, zone); // a zone id names no other address
  const lastColon = input.lastIndexOf(":");
  if (lastColon < 0) return undefined;
  let tail: number[] = [];
  const last = input.slice(lastColon + 1);
  if (last.includes(".")) {
    const v4 = parseIPv4(last);
    if (!v4) return undefined;
    tail = [(v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!];
    input = input.slice(0, lastColon + 1);
    if (!input.endsWith("::")) input = input.slice(0, -1);
  }
  const halves = input.split("::");
  if (halves.length > 2) return undefined;
  const groups = (half: string) => (half === "" ? [] : half.split(":"));
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  if ([...head, ...rest].some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return undefined;
  const known = head.length + rest.length + tail.length;
  if (halves.length === 1 ? known !== 8 : known > 7) return undefined;
  const words = [...head.map((g) => parseInt(g, 16)), ...Array<number>(8 - known).fill(0), ...rest.map((g) => parseInt(g, 16)), ...tail];
  return words.flatMap((w) => [w >> 8, w & 0xff]);
}

/** Whether the first `bits` bits of `bytes` equal those of `prefix`. */
function inPrefix(bytes: readonly number[], prefix: readonly number[], bits: number): boolean {
  for (let i = 0; i < bits; i++) {
    const bit = (b: readonly number[]) => ((b[i >> 3] ?? 0) >> (7 - (i & 7))) & 1;
    if (bit(bytes) !== bit(prefix)) return false;
  }
  return true;
}

/** IPv4 ranges that are not the public internet (RFC 6890 and the Azure platform address), with what they are. */
const IPV4_BLOCKED: Array<[number[], number, string]> = [
  [[0, 0, 0, 0], 8, "unspecified"],
  [[10, 0, 0, 0], 8, "private"],
  [[100, 64, 0, 0], 10, "shared (carrier-grade NAT)"],
  [[127, 0, 0, 0], 8, "loopback"],
  [[169, 254, 0, 0], 16, "link-local"],
  [[172, 16, 0, 0], 12, "private"],
  [[192, 0, 0, 0], 24, "IETF protocol"],
  [[192, 0, 2, 0], 24, "documentation"],
  [[192, 88, 99, 0], 24, "6to4 relay"],
  [[192, 168, 0, 0], 16, "private"],
  [[198, 18, 0, 0], 15, "benchmarking"],
  [[198, 51, 100, 0], 24, "documentation"],
  [[203, 0, 113, 0], 24, "documentation"],
  [[224, 0, 0, 0], 4, "multicast"],
  [[240, 0, 0, 0], 4, "reserved"],
  // Azure's platform endpoint (DNS, DHCP, health probes), reachable from inside every Azure network.
  [[168, 63, 129, 16], 32, "Azure platform"],
];

/** IPv6 ranges that are not the public internet; the ones that embed an IPv4 address are judged by that address instead. */
const IPV6_BLOCKED: Array<[string, number, string]> = [
  ["64:ff9b:1::", 48, "local NAT64"],
  ["100::", 64, "discard"],
  ["2001::", 23, "IETF protocol"],
  ["2001:db8::", 32, "documentation"],
  ["3fff::", 20, "documentation"],
  ["fc00::", 7, "private (unique local)"],
  ["fe80::", 10, "link-local"],
  ["fec0::", 10, "site-local"],
  ["ff00::", 8, "multicast"],
];

/** IPv6 prefixes followed (at byte `offset`) by an IPv4 address: IPv4-mapped, IPv4-compatible, NAT64, 6to4. */
const IPV6_EMBEDDING: Array<[string, number, number]> = [
  ["::ffff:0:0", 96, 12],
  ["::", 96, 12],
  ["64:ff9b::", 96, 12],
  ["2002::", 16, 2],
];

/**
 * Why an IP address may not be a webhook target outside local development, as `<address> (<kind>)` (loopback,
 * private, link-local, ...), or null for a public address. IPv4-mapped and other IPv6 forms that carry an IPv4 address are judged by that
 * address. Anything that does not parse as an address is refused too.
 */
export function addressProblem(address: string): string | null {
  const v4 = parseIPv4(address);
  if (v4) {
    const hit = IPV4_BLOCKED.find(([prefix, bits]) => inPrefix(v4, prefix, bits));
    return hit ? `${address} (${hit[2]})` : null;
  }
  const v6 = parseIPv6(address);
  if (!v6) return `${address} (not an IP address)`;
  if (v6.slice(0, 15).every((b) => b === 0) && v6[15]! <= 1) return `${address} (${v6[15] ? "loopback" : "unspecified"})`;
  for (const [prefix, bits, offset] of IPV6_EMBEDDING) {
    if (!inPrefix(v6, parseIPv6(prefix)!, bits)) continue;
    const problem = addressProblem(v6.slice(offset, offset + 4).join("."));
    return problem ? `${address} = ${problem}` : null;
  }
  const hit = IPV6_BLOCKED.find(([prefix, bits]) => inPrefix(v6, parseIPv6(prefix)!, bits));
  return hit ? `${address} (${hit[2]})` : null;
}

/** The address in a URL's hostname when it is an IP literal (`[::1]` without brackets), else undefined. */
export function literalAddress(hostname: string): string | undefined {
  const bare = hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
  return parseIPv4(bare) || parseIPv6(bare) ? bare : undefined;
}

/** Longest target URL accepted. */
export const MAX_URL_LENGTH = 2048;

/**
 * Why `text` cannot be a webhook target, or null. An absolute `https://` URL (`http://` too when private targets are
 * allowed, i.e. local development) of at most 2,048 characters, without credentials, fragment, whitespace or control
 * characters. Unless private targets are allowed, a host that is an IP literal must be a public address, and
 * `localhost` (or a name under `.localhost`) is refused; names are resolved and checked again at every delivery.
 */
export function webhookUrlProblem(text: string, allowPrivate: boolean): string | null {
  if (text.length > MAX_URL_LENGTH) return `is longer than ${MAX_URL_LENGTH} characters`;
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  if (/[\u0000-\u0020\u007f-\u009f]/.test(text)) return "holds whitespace or a control character";
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return "is not an absolute URL";
  }
  if (url.protocol !== "https:" && !(allowPrivate && url.protocol === "http:"))
    return allowPrivate ? "must be an http:// or https:// URL" : "must be an https:// URL";
  if (url.username || url.password) return "must not hold credentials (user:password@); the signature authenticates the sender";
  if (url.hash || text.includes("#")) return "must not hold a fragment (#...)";
  if (!url.hostname) return "has no host";
  if (allowPrivate) return null;
  const literal = literalAddress(url.hostname);
  if (literal) {
    const problem = addressProblem(literal);
    return problem ? `points at a non-public address, ${problem}; private, loopback and link-local targets are refused` : null;
  }
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  if (host === "localhost" || host.endsWith(".localhost")) return "points at localhost; private, loopback and link-local targets are refused";
  return null;
}

// ---------------------------------------------------------------------------------------------------
// Requests

/** Subscriptions at most (every dispatch reads them all: one small partition). */
export const MAX_WEBHOOKS = 50;

// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const UNPAIRED_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const urlField = z
  .string()
  .max(MAX_URL_LENGTH + 1, `url is longer than ${MAX_URL_LENGTH} characters`)
  .meta({ description: `url: https:// (http:// only where private targets are allowed), at most ${MAX_URL_LENGTH} characters, no credentials or fragment` });

const eventsField = z
  .array(z.enum([...WEBHOOK_EVENTS, ALL_EVENTS]))
  .min(1, "events must name at least one event")
  .max(WEBHOOK_EVENTS.length + 1)
  .superRefine((events, ctx) => {
    const seen = new Set<string>();
    for (const [i, event] of events.entries()) {
      if (seen.has(event)) ctx.addIssue({ code: "custom", path: [i], message: `events names ${event} twice` });
      seen.add(event);
    }
  })
  .meta({ description: `events: one or more of ${WEBHOOK_EVENTS.join(", ")}, or "*" for all` });

const descriptionField = z
  .string()
  .max(500, "description is longer than 500 characters")
  .superRefine((value, ctx) => {
    if (CONTROL.test(value.replace(/[\n\t]/g, ""))) ctx.addIssue({ code: "custom", message: "description holds a control character" });
    if (UNPAIRED_SURROGATE.test(value)) ctx.addIssue({ code: "custom", message: "description holds an unpaired UTF-16 surrogate" });
  })
  .nullable()
  .optional();

/** `POST /webhooks`. The URL's rules depend on a setting, so the app checks them (webhookUrlProblem) after this schema. */
export const createWebhookSchema = z.object({ url: urlField, events: eventsField, description: descriptionField }).strict();

/** `PATCH /webhooks/{id}`: any of the fields, at least one. */
export const updateWebhookSchema = z
  .object({ url: urlField.optional(), events: eventsField.optional(), description: descriptionField, enabled: z.boolean().optional() })
  .strict()
  .refine((body) => Object.keys(body).length > 0, "name at least one of url, events, description, enabled");
