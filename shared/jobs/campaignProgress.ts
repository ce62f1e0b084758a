import { contractTimestamp } from "../domain/time.js";
import type { Services } from "../services.js";
import { mapLimit } from "../util/concurrency.js";
import type { JobLog } from "./runtime.js";

/** Images per progress message. */
const PROGRESS_BATCH = 99;

/** Queues a progress check for some images of a campaign, in messages of up to PROGRESS_BATCH images. */
export async function sendProgress(services: Services, campaignId: number, imageIds: number[]): Promise<void> {
  const batches = Array.from({ length: Math.ceil(imageIds.length / PROGRESS_BATCH) }, (_, i) => imageIds.slice(i * PROGRESS_BATCH, (i + 1) * PROGRESS_BATCH));
  await mapLimit(batches, 16, (batch) => services.queue.send("campaign-progress", { campaignId, imageIds: batch }));
}

/**
 * An active campaign becomes completed when a change brings `done` up to `total`. A reopened campaign
 * whose counted images are relabeled is not completed again by itself (the admin completes it, as seed
 * 001 describes): only a change that raised `done` to `total` does it. Returns whether it completed now.
 */
export async function completeCampaign(services: Services, campaignId: number): Promise<boolean> {
  const before = await services.campaigns.get(campaignId);
  if (before?.status !== "active") return false;
  const after = await services.campaigns.update(campaignId, (current) => (current.status === "active" ? { status: "completed", dateCompleted: contractTimestamp() } : null));
  return after?.status === "completed";
}

/**
 * Counts are kept by the requests that change images (in the same transactions); this job repairs what a
 * request that died half-way left behind: it brings the campaign's summary up to date with the count rows
 * of the images' buckets, and completes the campaign if that repair brought `done` up to `total`.
 */
export async function runCampaignProgress(services: Services, campaignId: number, imageIds: number[], log: JobLog): Promise<void> {
  const { progress, reachedTotal } = await services.campaigns.refreshProgress(campaignId, imageIds);
  log.info(`progress ${progress.done}/${progress.total}`);
  if (reachedTotal && (await completeCampaign(services, campaignId))) log.info("all images labeled: campaign completed");
}
