import type { JobType } from "../queue/messages.js";
import { failCampaignFinish, runCampaignFinish } from "./campaignFinish.js";
import { failCampaignImages, runCampaignImages } from "./campaignImages.js";
import { runCampaignSubmission } from "./campaignSubmission.js";
import { runExport } from "./exportRun.js";
import { failExport } from "./exports.js";
import { failImageSetCopy, runImageSetCopy } from "./imageSetCopy.js";
import { runMaskPlan } from "./maskPlan.js";
import { runMaskRender } from "./maskRender.js";
import { runMaskZip } from "./maskZip.js";
import type { JobDefinition } from "./runtime.js";
import { failWebhookDeliver, runWebhookDeliver } from "./webhookDeliver.js";
import { failWebhookDispatch, runWebhookDispatch } from "./webhookDispatch.js";

/** Every job type's worker: what it does, and how its resource shows a final failure. */
export const jobs: { [T in JobType]: JobDefinition<T> } = {
  "imageset-copy": {
    resource: (body) => `imageset/${body.imagesetId}`,
    run: (services, body, log) => runImageSetCopy(services, body.imagesetId, log),
    fail: (services, body, reason) => failImageSetCopy(services, body.imagesetId, reason),
  },
  "campaign-submission": {
    resource: (body) => `campaign/${body.campaignId}/batch/${body.batchId}`,
    run: (services, body, log) => runCampaignSubmission(services, body.campaignId, body.batchId, body.imageIds, log),
    // Nothing to mark: a batch nobody settles stays invisible (never committed) or is applied by a replay.
    fail: async () => {},
  },
  "campaign-images": {
    resource: (body) => `campaign/${body.campaignId}/addition/${body.additionId}`,
    run: (services, body, log) => runCampaignImages(services, body.campaignId, body.additionId, log),
    fail: (services, body, reason) => failCampaignImages(services, body.campaignId, body.additionId, reason),
  },
  "campaign-finish": {
    resource: (body) => `campaign/${body.campaignId}`,
    run: (services, body, log) => runCampaignFinish(services, body.campaignId, log),
    fail: (services, body, reason) => failCampaignFinish(services, body.campaignId, reason),
  },
  "export-run": {
    resource: (body) => `export/${body.exportId}`,
    run: (services, body, log) => runExport(services, body.exportId, log),
    fail: (services, body, reason) => failExport(services, body.exportId, reason),
  },
  "mask-plan": {
    resource: (body) => `export/${body.exportId}/plan`,
    run: (services, body, log) => runMaskPlan(services, body.exportId, log),
    fail: (services, body, reason) => failExport(services, body.exportId, reason),
  },
  "mask-render": {
    resource: (body) => `export/${body.exportId}/image/${body.imageId}`,
    run: (services, body, log) => runMaskRender(services, body.exportId, body.imageId, log),
    fail: (services, body, reason) => failExport(services, body.exportId, `mask of image ${body.imageId}: ${reason}`),
  },
  "mask-zip": {
    resource: (body) => `export/${body.exportId}/zip`,
    run: (services, body, log) => runMaskZip(services, body.exportId, log),
    fail: (services, body, reason) => failExport(services, body.exportId, `zip: ${reason}`),
  },
  "webhook-dispatch": {
    resource: (body) => `outbox/${body.table}/${body.partition}`,
    run: (services, body, log) => runWebhookDispatch(services, body, log),
    fail: (services, body) => failWebhookDispatch(services, body),
  },
  "webhook-deliver": {
    resource: (body) => `webhook/${body.webhookId}/delivery/${body.position}/attempt/${body.attempt}`,
    run: (services, body, log) => runWebhookDeliver(services, body, log),
    fail: (services, body, reason) => failWebhookDeliver(services, body, reason),
  },
};
