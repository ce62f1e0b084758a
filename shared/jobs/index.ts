import type { JobType } from "../queue/messages.js";
import { runCampaignProgress } from "./campaignProgress.js";
import { failImageSetCopy, runImageSetCopy } from "./imageSetCopy.js";
import type { JobDefinition } from "./runtime.js";

/** Every job type's worker: what it does, and how its resource shows a final failure. */
export const jobs: { [T in JobType]?: JobDefinition<T> } = {
  "imageset-copy": {
    resource: (body) => `imageset/${body.imagesetId}`,
    run: (services, body, log) => runImageSetCopy(services, body.imagesetId, log),
    fail: (services, body, reason) => failImageSetCopy(services, body.imagesetId, reason),
  },
  "campaign-progress": {
    resource: (body) => `campaign/${body.campaignId}/image/${body.imageId}`,
    run: (services, body, log) => runCampaignProgress(services, body.campaignId, body.imageId, log),
    // Nothing to mark: the dead-lettered message is the record, and replaying it converges (state-based).
    fail: async () => {},
  },
};
