import type { Services } from "../services.js";
import type { JobLog } from "./runtime.js";

/**
 * Settles one label batch some time after its request: a batch that never committed is aborted (its
 * staged rows removed, a late commit refused), one that committed is applied in full. Then the summary of
 * its buckets is brought up to date with their count rows (the request may have died before doing it),
 * completing the campaign if that brought `done` up to `total`. Idempotent: a second delivery changes nothing.
 */
export async function runCampaignSubmission(services: Services, campaignId: number, batchId: string, imageIds: number[], log: JobLog): Promise<void> {
  const state = await services.labelBatches.settle(campaignId, batchId, imageIds);
  log.info(`label batch ${state}`);
  if (state === "aborted") return;
  const { progress, reachedTotal } = await services.campaigns.refreshProgress(campaignId, imageIds);
  if (reachedTotal && (await services.campaigns.completeIfActive(campaignId))) log.info(`progress ${progress.done}/${progress.total}: campaign completed`);
}
