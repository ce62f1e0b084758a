import { z } from "zod";
import type { QueueName } from "../config.js";
import { WEBHOOK_ID } from "../domain/webhooks.js";

/** The body of each job type. Jobs carry ids only: workers read current state, so a late or repeated message is harmless. */
export const jobSchemas = {
  /** Copy a finished image set's dropbox into the image store and record its images. */
  "imageset-copy": z.object({ imagesetId: z.number().int().positive() }).strict(),
  /**
   * Settle one label batch after its request (queued before the batch is written, delivered later): abort
   * it if it never committed, finish applying it if it did, then bring the campaign's summary up to date.
   */
  "campaign-submission": z
    .object({ campaignId: z.number().int().positive(), batchId: z.string().min(1).max(100), imageIds: z.array(z.number().int().positive()).min(1).max(1000) })
    .strict(),
  /** Add a large set of stored images to a campaign (recorded by the request as an addition). */
  "campaign-images": z.object({ campaignId: z.number().int().positive(), additionId: z.string().min(1).max(40) }).strict(),
  /** Write a finished campaign's label set and ML datasets. */
  "campaign-finish": z.object({ campaignId: z.number().int().positive() }).strict(),
  /** Write one export file (csv, json, coco, yolo, voc). */
  "export-run": z.object({ exportId: z.string().min(1) }).strict(),
  /** Plan a mask export: fix its class legend and output names, then fan one `mask-render` out per image. */
  "mask-plan": z.object({ exportId: z.string().min(1) }).strict(),
  /** Render the ground-truth mask of one image for a mask export; the last one queues `mask-zip`. */
  "mask-render": z.object({ exportId: z.string().min(1), imageId: z.number().int().positive() }).strict(),
  /** Zip a mask export's output folder into its download, once every image is rendered. */
  "mask-zip": z.object({ exportId: z.string().min(1) }).strict(),
  /**
   * Turn the webhook outbox rows of one table partition into deliveries (one per matching subscription), queue their
   * first attempts and delete the rows. Sent after each change that records an event, and once more, delayed, before it.
   */
  "webhook-dispatch": z
    .object({
      table: z.enum(["records", "campaignData", "exports"]),
      partition: z.string().min(1).max(256),
      /** Sweeps re-queued after one failed for good (a bounded number). */
      resweep: z.number().int().min(1).max(100).optional(),
    })
    .strict(),
  /** Make attempt `attempt` of one webhook delivery (the subscription's delivery at `position`), and schedule the next if it fails. */
  "webhook-deliver": z
    .object({ webhookId: z.string().regex(WEBHOOK_ID), position: z.number().int().min(0), attempt: z.number().int().min(1).max(10_000) })
    .strict(),
} satisfies Record<QueueName, z.ZodType>;

/** A job type, which is also the name of its queue (before RESOURCE_PREFIX). */
export type JobType = keyof typeof jobSchemas;
/** The body of a job of type `T`, as its schema parses it. */
export type JobBody<T extends JobType> = z.infer<(typeof jobSchemas)[T]>;

/** How a job is sent: its id (duplicate detection, tracing) and an optional delay. */
export interface SendOptions {
  /**
   * Id for Service Bus duplicate detection and tracing; a random UUID when absent. Pass a stable id only
   * where a second identical message within the detection window is truly redundant.
   */
  messageId?: string;
  /** Seconds before the message can be received (a scheduled message); 0 or absent: at once. */
  delaySeconds?: number;
}

/** The queue port: send a typed job. Delivery is at-least-once; receivers are the host's business. */
export interface JobSender {
  send<T extends JobType>(type: T, body: JobBody<T>, options?: SendOptions): Promise<void>;
  close(): Promise<void>;
}

/** The wire envelope used on Storage queues (Service Bus carries type as subject, body as the message body). */
export interface JobEnvelope {
  type: JobType;
  messageId: string;
  body: unknown;
}

/**
 * Whether a received message is an envelope rather than a bare job body. No job body has a `type` and a `body`
 * (the schemas are strict), so the two cannot be mistaken for each other.
 */
export function isJobEnvelope(message: unknown): message is JobEnvelope {
  return typeof message === "object" && message !== null && typeof (message as { type?: unknown }).type === "string" && "body" in message;
}
