import { contractTimestamp } from "../domain/time.js";
import type { Services } from "../services.js";
import { mapLimit } from "../util/concurrency.js";
import type { JobLog } from "./runtime.js";

/** Images per progress message: one worker transaction (99 image rows and the count row) moves `done` for all of them. */
const PROGRESS_BATCH = 99;

/** Queues the progress update of some images of a campaign, in messages of up to PROGRESS_BATCH images. */
export async function sendProgress(services: Services, campaignId: number, imageIds: number[]): Promise<void> {
  const batches = Array.from({ length: Math.ceil(imageIds.length / PROGRESS_BATCH) }, (_, i) => imageIds.slice(i * PROGRESS_BATCH, (i + 1) * PROGRESS_BATCH));
  await mapLimit(batches, 16, (batch) => services.queue.send("campaign-progress", { campaignId, imageIds: batch }));
}

/**
 * Keeps a campaign's `done` count for a submitted batch (one transaction per batch, no recount) and completes an
 * active campaign when this change brought `done` up to `total`. A reopened campaign whose images are
 * relabeled is not completed again by itself: the admin completes it, as seed 001 describes.
 */
export async function runCampaignProgress(services: Services, campaignId: number, imageIds: number[], log: JobLog): Promise<void> {
  const { progress, reachedTotal } = await services.campaigns.reconcileProgress(campaignId, imageIds);
  log.info(`progress ${progress.done}/${progress.total}`);
  if (!reachedTotal || progress.total === 0) return;
  const campaign = await services.campaigns.update(campaignId, (current) =>
    current.status === "active" ? { status: "completed", dateCompleted: contractTimestamp() } : null,
  );
  if (campaign?.status === "completed") log.info("all images labeled: campaign completed");
}
