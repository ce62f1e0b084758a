import { contractTimestamp } from "../domain/time.js";
import type { Services } from "../services.js";
import type { JobLog } from "./runtime.js";

/**
 * Keeps a campaign's `done` count for one image (O(1) per submission, no recount) and completes an
 * active campaign when this change brought `done` up to `total`. A reopened campaign whose images are
 * relabeled is not completed again by itself: the admin completes it, as seed 001 describes.
 */
export async function runCampaignProgress(services: Services, campaignId: number, imageId: number, log: JobLog): Promise<void> {
  const { progress, raised } = await services.campaigns.reconcileProgress(campaignId, imageId);
  log.info(`progress ${progress.done}/${progress.total}${raised ? " (raised)" : ""}`);
  if (!raised || progress.total === 0 || progress.done < progress.total) return;
  const campaign = await services.campaigns.update(campaignId, (current) =>
    current.status === "active" ? { status: "completed", dateCompleted: contractTimestamp() } : null,
  );
  if (campaign?.status === "completed") log.info("all images labeled: campaign completed");
}
