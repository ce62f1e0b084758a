/**
 * Webhook events: what each one carries (the resource's public fields as the API shows them, minus short-lived
 * SAS URLs) and the CloudEvents 1.0 envelope it is delivered in. Built when the change is recorded, so a delivery
 * tells the state the event announced, not a later one.
 */
import { createHash, randomBytes } from "node:crypto";
import { cloudEventType, eventIdTime, EVENT_ID, type WebhookEventType } from "../domain/webhooks.js";
import { contractTimestamp } from "../domain/time.js";
import { campaignFields, exportFields, imageSetFields } from "../app/views.js";
import type { CampaignImage, CampaignRecord } from "../repos/campaigns.js";
import type { ExportRecord } from "../repos/exports.js";
import type { ImageSetRecord } from "../repos/imageSets.js";

/** An event as the outbox keeps it until dispatch. */
export interface WebhookEvent {
  /** `evt_<time>_<random>`: the CloudEvents `id`. */
  id: string;
  type: WebhookEventType;
  /** The resource, as an API path under /api/v1: `campaigns/12`, `campaigns/12/images/5`, `image_sets/3`, `exports/<id>`, `webhooks/<id>`. */
  subject: string;
  /** When the change happened (the contract's timestamp format, which is RFC 3339). */
  time: string;
  data: Record<string, unknown>;
}

/** A new event of `type` about `subject`, happening now. */
export function newEvent(type: WebhookEventType, subject: string, data: Record<string, unknown>, now = new Date()): WebhookEvent {
  return { id: `evt_${eventIdTime(now)}_${randomBytes(6).toString("hex")}`, type, subject, time: contractTimestamp(now), data };
}

/**
 * The delivery of `eventId` to subscription `webhookId`: the same id however often the event is dispatched (so a
 * repeated dispatch finds the delivery it made), and the `webhook-id` of every attempt.
 */
export function deliveryIdOf(eventId: string, webhookId: string): string {
  const match = EVENT_ID.exec(eventId);
  if (!match) throw new RangeError(`not an event id: ${eventId}`);
  return `msg_${match[1]}_${createHash("sha256").update(`${eventId}\n${webhookId}`).digest("hex").slice(0, 16)}`;
}

/** The CloudEvents `source` of this deployment: `/label-pipeline`, then the storage account (Azure) and the resource prefix, when set. */
export function eventSource(settings: { STORAGE_ACCOUNT_NAME?: string | undefined }, prefix: string): string {
  return ["/label-pipeline", settings.STORAGE_ACCOUNT_NAME, prefix].filter(Boolean).join("/");
}

/** The HTTP body of an event: CloudEvents 1.0 structured JSON (sent as `application/cloudevents+json`). */
export function cloudEventBody(event: WebhookEvent, source: string): string {
  return JSON.stringify({
    specversion: "1.0",
    id: event.id,
    source,
    type: cloudEventType(event.type),
    subject: event.subject,
    time: event.time,
    datacontenttype: "application/json",
    data: event.data,
  });
}

/** A campaign's public fields (GET /campaigns/{id} without `progress`, which is counted elsewhere), and the status it left. */
export function campaignEventData(campaign: CampaignRecord, previousStatus: string): Record<string, unknown> {
  return { ...campaignFields(campaign), previous_status: previousStatus };
}

/** An image set's public fields (GET /image_sets/{id} without the dropbox SAS URL and the counts read elsewhere). */
export function imageSetEventData(set: ImageSetRecord): Record<string, unknown> {
  return imageSetFields(set);
}

/** An export's public fields (GET /exports/{id} without `download_url`: a short-lived SAS, fetched from the API when needed). */
export function exportEventData(record: ExportRecord): Record<string, unknown> {
  return exportFields(record);
}

/** A record with a store's change applied (fields the change leaves undefined keep their value), as it reads after the write. */
export function recordAfter<T extends object>(current: T, change: Partial<NoInfer<T>>): T {
  return { ...current, ...Object.fromEntries(Object.entries(change).filter(([, v]) => v !== undefined)) };
}

/** A rejected campaign image (its entry in GET /campaigns/{id}/images, with the campaign and the reviewer). */
export function rejectedImageData(campaignId: number, image: CampaignImage, fields: Record<string, unknown>): Record<string, unknown> {
  const text = (v: unknown) => (typeof v === "string" && v !== "" ? v : null);
  return {
    campaign_id: campaignId,
    image_id: image.imageId,
    url: `/images/${image.imageId}`,
    label_status: "rejected",
    test_data: typeof fields.testData === "boolean" ? fields.testData : image.testData,
    review_comment: text(fields.reviewComment) ?? image.reviewComment,
    reviewed_by: text(fields.reviewedBy),
    last_activity: text(fields.lastActivityAt) ?? image.lastActivityAt,
  };
}
