import { contractTimestamp } from "../domain/time.js";
import { PermanentJobError } from "../errors.js";
import type { Services } from "../services.js";
import type { JobLog } from "./runtime.js";

/** Images added per step: one read of the store's rows, then the campaign's bucket transactions. */
const STEP = 5000;

/**
 * Runs a large addition of images to a campaign, step by step, recording how far it got. Idempotent and
 * resumable: adding an image that is in the campaign already changes nothing, so a repeated or resumed
 * run only re-reads what is done.
 */
export async function runCampaignImages(services: Services, campaignId: number, additionId: string, log: JobLog): Promise<void> {
  const addition = await services.additions.get(campaignId, additionId);
  if (!addition) throw new PermanentJobError(`campaign ${campaignId} has no addition ${additionId}`);
  if (addition.status === "succeeded" || addition.status === "failed") {
    log.info(`addition is ${addition.status}; nothing to do`);
    return;
  }
  await services.additions.update(campaignId, additionId, (current) => ({ status: "running", dateStarted: current.dateStarted ?? contractTimestamp() }));
  const ids = await services.additions.imageIds(campaignId, additionId);
  let added = 0;
  for (let start = 0; start < ids.length; start += STEP) {
    const step = ids.slice(start, start + STEP);
    const images = await services.images.getMany(step);
    if (images.size < step.length) throw new PermanentJobError(`${step.length - images.size} of the images to add are no longer in the store`);
    added += await services.campaigns.addImages(campaignId, [...images.values()]);
    const done = Math.min(ids.length, start + STEP);
    await services.additions.update(campaignId, additionId, (current) => (current.done >= done ? null : { done }));
  }
  await services.additions.update(campaignId, additionId, () => ({ status: "succeeded", done: ids.length, dateFinished: contractTimestamp(), error: null }));
  log.info(`added ${added} new images of ${ids.length}`);
}

export async function failCampaignImages(services: Services, campaignId: number, additionId: string, reason: string): Promise<void> {
  await services.additions.update(campaignId, additionId, (current) =>
    current.status === "succeeded"
      ? null
      : { status: "failed", error: (reason.trim() || "the addition failed without an error message").slice(0, 1000), dateFinished: contractTimestamp() },
  );
}
