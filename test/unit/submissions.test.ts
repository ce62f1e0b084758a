/**
 * Partner submissions (`PUT /v1/campaigns/{id}/objects`: the body schema, then submitObjects in
 * shared/app/campaigns.ts) on Azurite. A batch with any invalid entry is refused whole with a 422 naming
 * the entry, before anything is written: no label, no history, no count, no check job. A valid batch
 * stores each image's objects (translated), one history entry per image, and counts each image once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handler as submitHandler } from "../../functions/submitCampaignObjects.js";
import type { Principal } from "../../shared/auth.js";
import { addImagesToCampaign, changeCampaignStatus, createCampaign, submitObjects } from "../../shared/app/campaigns.js";
import type { AppConfig } from "../../shared/config.js";
import { LIMITS } from "../../shared/domain/inputRules.js";
import type { Submission } from "../../shared/domain/submissions.js";
import { ApiError } from "../../shared/errors.js";
import type { InvocationLike } from "../../shared/http/endpoint.js";
import type { RequestLike } from "../../shared/http/request.js";
import { createServices, setServices, type Services } from "../../shared/services.js";
import { provisionStorage } from "../../shared/storage/provision.js";
import { testConfig } from "../support/env.js";
import { recordImages } from "../support/seed.js";
import { diffSnapshots, takeStorageSnapshot } from "../support/storageSnapshot.js";

let config: AppConfig;
let services: Services;
const admin: Principal = { apikey: "admin", role: "image-admin", email: "admin@test.example" };

beforeAll(async () => {
  config = testConfig();
  services = createServices(config);
  await provisionStorage(config, services.clients, { queues: true });
  setServices(services);
});
afterAll(() => setServices(undefined));

interface Campaign {
  id: number;
  /** Images in the campaign, 100x80 pixels each. */
  ids: number[];
  /** An image stored (100x80) but not added to this campaign. */
  outsider: number;
  headers: Record<string, string>;
  principal: Principal;
}

let campaigns = 0;
/** An active campaign of `count` 100x80 images, created, filled and activated through the app's own functions. */
async function activeCampaign(count: number, translations: Record<string, string> | null = null): Promise<Campaign> {
  const title = `subm-${++campaigns}`;
  const [outsider, ...ids] = await recordImages(services, title, count + 1, { width: 100, height: 80 });
  const email = `${title}@example.com`;
  const { campaign, access_token } = await createCampaign(services, admin, { title, labeler_email: email, label_translations: translations });
  await addImagesToCampaign(
    services,
    admin,
    campaign.campaignId,
    ids.map((id) => ({ id })),
  );
  await changeCampaignStatus(services, campaign.campaignId, "active");
  expect(access_token.apisecret).toBeTruthy();
  return {
    id: campaign.campaignId,
    ids,
    outsider: outsider!,
    headers: { "Authentication-Key": access_token.apikey, "Authentication-Secret": access_token.apisecret! },
    principal: { apikey: access_token.apikey, role: "labeler", email },
  };
}

/** The request through the real route handler: authentication, body schema, submitObjects. */
async function put(campaign: Campaign, body: unknown): Promise<{ status: number; body: any }> {
  const text = JSON.stringify(body);
  const request: RequestLike = {
    method: "PUT",
    url: `http://127.0.0.1/api/v1/campaigns/${campaign.id}/objects`,
    headers: new Headers({ ...campaign.headers, "Content-Type": "application/json" }),
    query: new URLSearchParams(),
    params: { campaignId: String(campaign.id) },
    text: async () => text,
  };
  const errors: unknown[] = [];
  const context: InvocationLike = { invocationId: "test", log: () => {}, error: (...args) => errors.push(args) };
  const response = await submitHandler(request, context);
  expect(errors, "no unexpected failure").toEqual([]);
  return { status: response.status, body: response.jsonBody };
}

const box = { xmin: 10, xmax: 20, ymin: 5, ymax: 15 };
const valid = (imageId: number) => ({ image_id: imageId, objects: [{ label: "car", bounding_box: box }] });

/** Everything the run owns in storage, with the check-job queue's message count. */
const snapshot = () => takeStorageSnapshot(config, services.clients, { queues: [config.queue("campaign-submission")] });

/** Asserts a refused batch left no trace: storage as it was, and nothing readable through the stores. */
async function expectRefusedWhole(campaign: Campaign, body: unknown, status: number, detail: RegExp) {
  const before = await snapshot();
  const response = await put(campaign, body);
  expect(response.status).toBe(status);
  expect(response.body.detail).toMatch(detail);
  expect(diffSnapshots(before, await snapshot())).toEqual([]);
  // Read back what a client would see: no history, nothing labeled, nothing counted.
  for (const imageId of campaign.ids) {
    expect(await services.labelBatches.history(campaign.id, imageId)).toEqual([]);
    expect(await services.campaigns.getImage(campaign.id, imageId)).toMatchObject({ labelStatus: "unlabeled", objects: [], labelsBatch: null });
  }
  expect(await services.campaigns.progress(campaign.id)).toEqual({ done: 0, total: campaign.ids.length });
  return response;
}

describe("a batch with an invalid entry is refused whole, naming the entry", () => {
  let campaign: Campaign;
  beforeAll(async () => {
    campaign = await activeCampaign(3);
  });
  // Entries 0 and 1 are valid each time; entry 2 is the bad one, so a partial store would show.
  const withBad = (bad: unknown) => [valid(campaign.ids[0]!), valid(campaign.ids[1]!), bad];

  it("a bounding box outside the image", async () => {
    await expectRefusedWhole(
      campaign,
      withBad({ image_id: campaign.ids[2], objects: [{ label: "car", bounding_box: { xmin: 50, xmax: 101, ymin: 0, ymax: 10 } }] }),
      422,
      /^body\[2\]\.objects\[0\]\.bounding_box: .* is outside the image \(100x80\)/,
    );
    await expectRefusedWhole(
      campaign,
      withBad({ image_id: campaign.ids[2], objects: [{ label: "car", bounding_box: { xmin: -1, xmax: 10, ymin: 0, ymax: 10 } }] }),
      422,
      /^body\[2\]\.objects\[0\]\.bounding_box: .* outside the image/,
    );
    await expectRefusedWhole(
      campaign,
      withBad({ image_id: campaign.ids[2], objects: [valid(0).objects[0], { label: "car", bounding_box: { xmin: 0, xmax: 10, ymin: 70, ymax: 81 } }] }),
      422,
      /^body\[2\]\.objects\[1\]\.bounding_box: .* outside the image/,
    );
  });

  it("an inverted bounding box", async () => {
    await expectRefusedWhole(
      campaign,
      withBad({ image_id: campaign.ids[2], objects: [{ label: "car", bounding_box: { xmin: 20, xmax: 10, ymin: 0, ymax: 10 } }] }),
      422,
      /^body\[2\]\.objects\[0\]\.bounding_box: xmin \(20\) must be less than xmax \(10\)/,
    );
    await expectRefusedWhole(
      campaign,
      withBad({ image_id: campaign.ids[2], objects: [{ label: "car", bounding_box: { xmin: 0, xmax: 10, ymin: 5, ymax: 5 } }] }),
      422,
      /^body\[2\]\.objects\[0\]\.bounding_box: ymin \(5\) must be less than ymax \(5\)/,
    );
  });

  it("a polygon point outside the image", async () => {
    const polygon = [
      [0, 0],
      [100, 0],
      [100, 80.5],
    ];
    await expectRefusedWhole(
      campaign,
      withBad({ image_id: campaign.ids[2], objects: [{ label: "car", polygon }] }),
      422,
      /^body\[2\]\.objects\[0\]\.polygon\[2\]: point \(100, 80\.5\) is outside the image \(100x80\)/,
    );
  });

  it("an image that is not part of the campaign (stored elsewhere, or not at all)", async () => {
    await expectRefusedWhole(
      campaign,
      withBad(valid(campaign.outsider)),
      422,
      new RegExp(`^body\\[2\\]\\.image_id: image ${campaign.outsider} is not part of this campaign`),
    );
    await expectRefusedWhole(campaign, withBad(valid(5_000_000)), 422, /^body\[2\]\.image_id: image 5000000 is not part of this campaign/);
  });

  it("an image listed twice", async () => {
    await expectRefusedWhole(
      campaign,
      withBad(valid(campaign.ids[0]!)),
      422,
      new RegExp(`^body\\[2\\]\\.image_id: image ${campaign.ids[0]} appears twice in this batch`),
    );
  });

  it("a label with a control character", async () => {
    const response = await expectRefusedWhole(
      campaign,
      withBad({ image_id: campaign.ids[2], objects: [{ label: "ca\u0007r", bounding_box: box }] }),
      422,
      /body\[2\]\.objects\[0\]\.label: label holds the control character U\+0007/,
    );
    expect(response.body.errors[0].path).toEqual([2, "objects", 0, "label"]);
  });

  it("more objects on one image than allowed", async () => {
    const objects = Array.from({ length: LIMITS.objectsPerImage + 1 }, () => ({ label: "a", bounding_box: box }));
    const response = await expectRefusedWhole(
      campaign,
      withBad({ image_id: campaign.ids[2], objects }),
      422,
      new RegExp(`body\\[2\\]\\.objects: at most ${LIMITS.objectsPerImage} objects per image`),
    );
    expect(response.body.errors[0].path).toEqual([2, "objects"]);
  });

  it("is refused by submitObjects itself, not only by the route's schema", async () => {
    // The domain checks hold for any caller of the app function (the worker paths, the console).
    const before = await snapshot();
    const error = await submitObjects(
      services,
      campaign.principal,
      campaign.id,
      withBad({ image_id: campaign.ids[2], objects: [{ label: "car", bounding_box: { xmin: 0, xmax: 200, ymin: 0, ymax: 10 } }] }) as Submission,
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 422, detail: expect.stringMatching(/^body\[2\]\.objects\[0\]\.bounding_box/) });
    expect(diffSnapshots(before, await snapshot())).toEqual([]);
  });

  it("accepts objects on the image's edges (the limits are inclusive)", async () => {
    const edge = await activeCampaign(1);
    const response = await put(edge, [
      {
        image_id: edge.ids[0],
        objects: [
          { label: "a", bounding_box: { xmin: 0, xmax: 100, ymin: 0, ymax: 80 } },
          {
            label: "b",
            polygon: [
              [0, 0],
              [100, 0],
              [100, 80],
            ],
          },
        ],
      },
    ]);
    expect(response).toEqual({ status: 200, body: "ok" });
  });
});

describe("a valid batch", () => {
  it("stores each image's objects (translated) with one history entry, queues one check job, and counts each image once", async () => {
    const campaign = await activeCampaign(4, { car: "vehicle" });
    const [a, b, c, d] = campaign.ids as [number, number, number, number];
    const body = [
      { image_id: a, objects: [{ label: " car ", confidence: 0.5, bounding_box: box }] },
      {
        image_id: b,
        objects: [
          {
            label: "tree",
            polygon: [
              [1, 1],
              [50, 1],
              [25, 40],
            ],
          },
        ],
      },
      { image_id: c, objects: [] },
    ];
    const before = await snapshot();
    expect(await put(campaign, body)).toEqual({ status: 200, body: "ok" });
    const after = await snapshot();
    // Exactly one check job was queued for the batch.
    const queue = config.queue("campaign-submission");
    expect(after.queues.get(queue)! - before.queues.get(queue)!).toBe(1);

    expect((await services.campaigns.getImage(campaign.id, a))!.objects).toEqual([
      { label_original: "car", label_translated: "vehicle", confidence: 0.5, bounding_box: box, polygon: null },
    ]);
    expect((await services.campaigns.getImage(campaign.id, b))!.objects).toEqual([
      {
        label_original: "tree",
        label_translated: "tree",
        confidence: null,
        bounding_box: null,
        polygon: [
          [1, 1],
          [50, 1],
          [25, 40],
        ],
      },
    ]);
    // An empty list marks the image labeled with no objects.
    expect(await services.campaigns.getImage(campaign.id, c)).toMatchObject({ labelStatus: "user_complete", objects: [] });
    expect(await services.campaigns.getImage(campaign.id, d)).toMatchObject({ labelStatus: "unlabeled" });
    for (const id of [a, b, c]) expect(await services.labelBatches.history(campaign.id, id)).toHaveLength(1);
    expect(await services.campaigns.progress(campaign.id)).toEqual({ done: 3, total: 4 });

    // The partner sends the same batch again: a second submission in the history, the same counts.
    expect(await put(campaign, body)).toEqual({ status: 200, body: "ok" });
    for (const id of [a, b, c]) expect(await services.labelBatches.history(campaign.id, id)).toHaveLength(2);
    expect(await services.campaigns.progress(campaign.id)).toEqual({ done: 3, total: 4 });
    const counts = await services.campaigns.images(campaign.id).exactCounts();
    const counters = [...counts.values()].reduce<Record<string, number>>((sum, c) => {
      // Review-state categories only (the statistics' counters beside them: campaignStats.test.ts).
      for (const [k, v] of Object.entries(c.counters)) if (v && /_[01]$/.test(k)) sum[k] = (sum[k] ?? 0) + v;
      return sum;
    }, {});
    expect(counters).toEqual({ user_complete_0: 3, unlabeled_0: 1 });
    expect((await services.campaigns.get(campaign.id))!.status).toBe("active");

    // Labeling the last image completes the campaign.
    expect(await put(campaign, [valid(d)])).toEqual({ status: 200, body: "ok" });
    expect(await services.campaigns.progress(campaign.id)).toEqual({ done: 4, total: 4 });
    expect((await services.campaigns.get(campaign.id))!.status).toBe("completed");
  });
});
