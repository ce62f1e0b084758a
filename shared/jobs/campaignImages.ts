import { contractTimestamp } from "../domain/time.js";
import { PermanentJobError } from "../errors.js";
import type { ImageRecord } from "../repos/images.js";
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
  const steps = Array.from({ length: Math.ceil(ids.length / STEP) }, (_, k) => ids.slice(k * STEP, (k + 1) * STEP));
  // Pipelined: the next step's image rows are read, and this step's reverse index written, while the next
  // step's images go into the campaign. A step's index is written only once its images are in, so a run
  // that stops half-way never leaves an index entry for an image the campaign does not hold.
  const read = (step: number[] | undefined) => {
    const rows = step ? services.images.getMany(step) : Promise.resolve(new Map<number, ImageRecord>());
    rows.catch(() => undefined); // awaited below; not an unhandled rejection while the previous step runs
    return rows;
  };
  let added = 0;
  let indexing: Promise<void> = Promise.resolve();
  let next = read(steps[0]);
  for (const [k, step] of steps.entries()) {
    const images = await next;
    if (images.size < step.length) throw new PermanentJobError(`${step.length - images.size} of the images to add are no longer in the store`);
    next = read(steps[k + 1]);
    added += await services.campaigns.addImages(campaignId, [...images.values()], { index: false });
    await indexing;
    indexing = services.campaigns.indexImages(campaignId, step);
    indexing.catch(() => undefined);
    const done = Math.min(ids.length, k * STEP + step.length);
    await services.additions.update(campaignId, additionId, (current) => (current.done >= done ? null : { done }));
  }
  await indexing;
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
