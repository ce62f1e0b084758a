/**
 * Campaign status requests (shared/app/campaigns.ts, shared/domain/campaigns.ts) on Azurite: finishing
 * queues the finishing job, and when the queue refuses it the campaign is put back exactly as it was,
 * a campaign whose finishing failed included (it keeps `finish_failed` and its error).
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Principal } from "../../shared/auth.js";
import type { AppConfig } from "../../shared/config.js";
import { changeCampaignStatus, createCampaign } from "../../shared/app/campaigns.js";
import { ApiError } from "../../shared/errors.js";
import { failCampaignFinish } from "../../shared/jobs/campaignFinish.js";
import type { JobSender } from "../../shared/queue/messages.js";
import { createServices, type Services } from "../../shared/services.js";
import { provisionStorage } from "../../shared/storage/provision.js";
import { testConfig } from "../support/env.js";

let config: AppConfig;
let services: Services;
const admin: Principal = { apikey: "status-admin", role: "image-admin", email: "admin@status.example" };

beforeAll(async () => {
  config = testConfig();
  services = createServices(config);
  await provisionStorage(config, services.clients, { queues: true });
});

/** A queue that refuses every message: the transport failing, injected; storage stays the real Azurite. */
const refusingQueue: JobSender = {
  send: async () => {
    throw new Error("injected: the queue refused the message");
  },
  close: async () => {},
};

let titles = 0;
async function completedCampaign(): Promise<number> {
  const { campaign } = await createCampaign(services, admin, { title: `${config.prefix}-status-${++titles}`, labeler_email: `p${titles}@status.example` });
  await changeCampaignStatus(services, campaign.campaignId, "active");
  await changeCampaignStatus(services, campaign.campaignId, "completed");
  return campaign.campaignId;
}

async function refusal(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, "the call must be refused").toBeInstanceOf(ApiError);
  return error as ApiError;
}

describe("finishing a campaign", () => {
  it("puts a completed campaign back to completed when the finishing job cannot be queued", async () => {
    const id = await completedCampaign();
    const error = await refusal(changeCampaignStatus(createServices(config, { queue: refusingQueue }), id, "finished"));
    expect(error.status).toBe(503);
    expect(await services.campaigns.get(id)).toMatchObject({ status: "completed", finishError: null });
  });

  it("puts a campaign whose finishing failed back to finish_failed, with its error, when the job cannot be queued", async () => {
    const id = await completedCampaign();
    await changeCampaignStatus(services, id, "finished");
    await failCampaignFinish(services, id, "the label set could not be written");
    const error = await refusal(changeCampaignStatus(createServices(config, { queue: refusingQueue }), id, "finished"));
    expect(error.status).toBe(503);
    expect(await services.campaigns.get(id)).toMatchObject({ status: "finish_failed", finishError: "the label set could not be written" });
    // And a later request goes through.
    await changeCampaignStatus(services, id, "finished");
    expect(await services.campaigns.get(id)).toMatchObject({ status: "finishing", finishError: null });
  });
});
