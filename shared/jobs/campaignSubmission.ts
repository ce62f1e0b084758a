import { countsAsDone } from "../domain/labels.js";
import type { Services } from "../services.js";
import { sendProgress } from "./campaignProgress.js";
import type { JobLog } from "./runtime.js";

/**
 * Settles one label batch some time after its request: a batch that never committed is aborted (its
 * staged rows removed, a late commit refused), one that committed is applied in full. Then, if any of
 * its images' contribution to `done` is not in line with its label status (the request died before
 * queueing progress), the progress update is queued. Idempotent: a second delivery finds nothing to do.
 */
export async function runCampaignSubmission(services: Services, campaignId: number, batchId: string, imageIds: number[], log: JobLog): Promise<void> {
  const state = await services.labelBatches.settle(campaignId, batchId, imageIds);
  log.info(`label batch ${state}`);
  if (state === "aborted") return;
  const images = await services.campaigns.getImages(campaignId, imageIds);
  const behind = [...images.values()].filter((image) => image.counted !== countsAsDone(image.labelStatus)).map((image) => image.imageId);
  if (behind.length === 0) return;
  await sendProgress(services, campaignId, behind);
  log.info(`queued progress for ${behind.length} images`);
}
