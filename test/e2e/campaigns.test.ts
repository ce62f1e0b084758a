import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordImages } from "../support/seed.js";
import { StorageQueueJobSender } from "../../shared/queue/storageQueue.js";
import { createStorageClients } from "../../shared/storage/clients.js";
import { DuplicatingSender } from "../support/duplicatingSender.js";
import { testConfig } from "../support/env.js";
import { call, startTestStack, waitFor, type TestStack } from "../support/stack.js";

let stack: TestStack;
let sender: DuplicatingSender;
beforeAll(async () => {
  const config = testConfig({ MAX_BODY_BYTES: String(1024 * 1024) });
  sender = new DuplicatingSender(new StorageQueueJobSender(config, createStorageClients(config).queueService));
  // Eight progress workers at once (the local default is one): the ETag races are the point here.
  stack = await startTestStack({ config, queue: sender, workerConcurrency: 8 });
});
afterAll(async () => stack?.stop());

const seedImages = (count: number, title: string) => recordImages(stack.host.services, title, count);

async function activeCampaign(title: string, email: string, imageIds: number[], translations?: Record<string, string>) {
  const created = await call(stack, "POST", "/campaigns", stack.admin, {
    title,
    labeler_email: email,
    ...(translations ? { label_translations: translations } : {}),
  });
  expect(created.status).toBe(201);
  const id = created.body.campaign_id as number;
  expect(
    (
      await call(
        stack,
        "POST",
        `/campaigns/${id}/images`,
        stack.admin,
        imageIds.map((i) => ({ id: i })),
      )
    ).body,
  ).toBe("ok");
  expect((await call(stack, "PUT", `/campaigns/${id}`, stack.admin, { new_status: "active" })).body).toBe("ok");
  const token = created.body.access_token;
  return { id, token, partner: { "Authentication-Key": token.apikey, "Authentication-Secret": token.apisecret ?? "" } };
}

const box = (xmin: number, ymin: number, xmax: number, ymax: number) => ({ xmin, xmax, ymin, ymax });

describe("campaigns and partners", () => {
  it("counts progress exactly under 50 parallel submissions with every job message delivered twice", async () => {
    const ids = await seedImages(200, "parallel");
    const { id, partner } = await activeCampaign("parallel", "parallel@example.com", ids);
    const batches = Array.from({ length: 50 }, (_, b) => ids.slice(b * 4, b * 4 + 4));
    // Every image is also resubmitted by a second, overlapping request: still counted once.
    const overlap = Array.from({ length: 10 }, (_, b) => ids.slice(b * 20, b * 20 + 20));
    const responses = await Promise.all(
      [...batches, ...overlap].map((batch) =>
        call(
          stack,
          "PUT",
          `/campaigns/${id}/objects`,
          partner,
          batch.map((imageId) => ({ image_id: imageId, objects: [{ label: "a", bounding_box: box(1, 1, 10, 10) }] })),
        ),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(responses.map(() => 200));
    const done = await waitFor(
      "completed",
      async () => {
        const c = (await call(stack, "GET", `/campaigns/${id}`, stack.admin)).body;
        return c.status === "completed" ? c : undefined;
      },
      60_000,
    );
    expect(done.progress).toEqual({ done: 200, total: 200 });
    // Let the duplicates drain, then check the count did not move past the total.
    await new Promise((r) => setTimeout(r, 1500));
    expect((await call(stack, "GET", `/campaigns/${id}`, stack.admin)).body.progress).toEqual({ done: 200, total: 200 });
  });

  it("scopes a partner to its own campaigns", async () => {
    const [a1, b1] = await seedImages(2, "scope");
    const a = await activeCampaign("scope-a", "partner-a@example.com", [a1!]);
    const b = await activeCampaign("scope-b", "partner-b@example.com", [b1!]);
    expect((await call(stack, "GET", `/campaigns/${a.id}/images`, a.partner)).status).toBe(200);
    expect((await call(stack, "GET", `/images/${a1}`, a.partner)).status).toBe(303);
    for (const [method, path, body] of [
      ["GET", `/campaigns/${b.id}/images`, undefined],
      ["PUT", `/campaigns/${b.id}/objects`, [{ image_id: b1, objects: [] }]],
      ["GET", `/images/${b1}`, undefined],
    ] as const) {
      const r = await call(stack, method, path, a.partner, body);
      expect(r.status, `${method} ${path}`).toBe(404);
      expect(r.body.detail).toBeTypeOf("string");
    }
    for (const [method, path] of [
      ["GET", "/campaigns"],
      ["GET", `/campaigns/${a.id}`],
      ["GET", `/campaigns/${a.id}/objects`],
      ["GET", "/images"],
      ["GET", "/image_sets"],
      ["POST", "/image_sets"],
    ] as const) {
      const r = await call(stack, method, path, a.partner, method === "POST" ? { title: "nope" } : undefined);
      expect(r.status, `${method} ${path}`).toBe(403);
      expect(r.body.detail).toMatch(/image-admin/);
    }
    // Same e-mail again: same key, no secret, scope widened.
    const again = await call(stack, "POST", "/campaigns", stack.admin, { title: "scope-c", labeler_email: "Partner-A@example.com" });
    expect(again.body.access_token).toEqual({ apikey: a.token.apikey, apisecret: null });
    expect((await call(stack, "GET", `/campaigns/${again.body.campaign_id}/images`, a.partner)).status).toBe(200);
  });

  it("rejects a bad batch whole, naming the entry, and stores nothing of it", async () => {
    const ids = await seedImages(2, "reject");
    const { id, partner } = await activeCampaign("reject", "reject@example.com", ids, { Plastic: "plastic" });
    const good = { image_id: ids[0], objects: [{ label: "Plastic", bounding_box: box(0, 0, 100, 80) }] };
    const cases: Array<[unknown, number, RegExp]> = [
      [[good, { image_id: ids[1], objects: [{ label: "x", bounding_box: box(0, 0, 101, 10) }] }], 422, /body\[1\]\.objects\[0\]\.bounding_box.*outside/],
      [[good, { image_id: 999_999, objects: [] }], 422, /not part of this campaign/],
      [[good, { image_id: ids[1], objects: [{ label: "", bounding_box: box(0, 0, 1, 1) }] }], 422, /label/],
      [[{ ...good, extra: 1 }], 422, /extra|Unrecognized/i],
      [
        [
          {
            image_id: ids[0],
            objects: [
              {
                label: "x",
                polygon: [
                  [0, 0],
                  [1, 1],
                ],
              },
            ],
          },
        ],
        422,
        /at least 3 points/,
      ],
      [[{ image_id: ids[0], objects: [{ label: "x", confidence: 2, bounding_box: box(0, 0, 1, 1) }] }], 422, /confidence/],
    ];
    for (const [body, status, detail] of cases) {
      const r = await call(stack, "PUT", `/campaigns/${id}/objects`, partner, body);
      expect(r.status, JSON.stringify(body)).toBe(status);
      expect(r.body.detail).toMatch(detail);
    }
    const image = await stack.host.services.campaigns.getImage(id, ids[0]!);
    expect(image).toMatchObject({ labelStatus: "unlabeled", objects: [] });
    expect(await stack.host.services.labelBatches.history(id, ids[0]!)).toEqual([]);
    // The good batch alone goes through, translated.
    expect((await call(stack, "PUT", `/campaigns/${id}/objects`, partner, [good])).body).toBe("ok");
    const objects = await call(stack, "GET", `/campaigns/${id}/objects`, stack.admin);
    expect(objects.body.images[0].objects[0]).toMatchObject({ label: "Plastic", label_original: "Plastic", label_translated: "plastic" });
  });

  it("answers bad input with a 4xx and a JSON detail, never a 500", async () => {
    const [imageId] = await seedImages(1, "badinput");
    const { id, partner } = await activeCampaign("badinput", "bad@example.com", [imageId!]);
    const huge = JSON.stringify([{ image_id: imageId, objects: [{ label: "x".repeat(2 * 1024 * 1024), bounding_box: box(0, 0, 1, 1) }] }]);
    const setId = (await call(stack, "POST", "/image_sets", stack.admin, { title: "badinput-set" })).body.imageset_id as number;
    const cases: Array<[string, string, Record<string, string>, unknown, number]> = [
      ["POST", "/image_sets", stack.admin, "{not json", 400],
      ["POST", "/image_sets", stack.admin, { title: 5 }, 422],
      ["POST", "/image_sets", stack.admin, { title: "ok-title", colour: "red" }, 422],
      ["POST", "/image_sets", stack.admin, { title: "Bad Title" }, 422],
      ["POST", "/image_sets", stack.admin, undefined, 400],
      ["PUT", `/campaigns/${id}/objects`, partner, huge, 413],
      ["GET", "/image_sets/424242", stack.admin, undefined, 404],
      ["GET", "/campaigns/424242", stack.admin, undefined, 404],
      ["GET", "/images/424242", stack.admin, undefined, 404],
      ["GET", "/images/abc", stack.admin, undefined, 404],
      ["PUT", "/image_sets/424242", stack.admin, { new_status: "finished" }, 404],
      ["PUT", `/campaigns/${id}`, stack.admin, { new_status: "finished" }, 409],
      // The contract: any known status the campaign cannot move to is a conflict; a value that is no status is invalid.
      ["PUT", `/campaigns/${id}`, stack.admin, { new_status: "created" }, 409],
      ["PUT", `/campaigns/${id}`, stack.admin, { new_status: "finish_failed" }, 409],
      ["PUT", `/campaigns/${id}`, stack.admin, { new_status: "bogus" }, 422],
      ["PUT", `/image_sets/${setId}`, stack.admin, { new_status: "processing" }, 409],
      ["PUT", `/image_sets/${setId}`, stack.admin, { new_status: "bogus" }, 422],
      ["POST", `/campaigns/${id}/images`, stack.admin, [{ id: imageId }], 409],
      ["POST", "/campaigns", stack.admin, { title: "badinput", labeler_email: "x@example.com" }, 409],
      ["POST", "/campaigns", stack.admin, { title: "new-one", labeler_email: "not-an-email" }, 422],
      ["GET", "/campaigns?page=0", stack.admin, undefined, 422],
      ["GET", `/campaigns/${id}/images?label_status=bogus`, stack.admin, undefined, 422],
      ["GET", "/campaigns", {}, undefined, 401],
      ["GET", "/campaigns", { "Authentication-Key": stack.admin["Authentication-Key"]!, "Authentication-Secret": "wrong" }, undefined, 401],
      ["GET", "/campaigns", { "Authentication-Key": "nobody", "Authentication-Secret": "x" }, undefined, 401],
      ["DELETE", "/campaigns", stack.admin, undefined, 405],
      ["GET", "/nothing-here", stack.admin, undefined, 404],
    ];
    for (const [method, path, headers, body, status] of cases) {
      const r = await call(stack, method, path, headers, body);
      expect(r.status, `${method} ${path} ${typeof body === "string" ? body.slice(0, 30) : JSON.stringify(body)}`).toBe(status);
      expect(r.body.detail, `${method} ${path}`).toBeTypeOf("string");
      expect(JSON.stringify(r.body)).not.toMatch(/\n\s+at /);
    }
  });

  it("reviews labels: approve, reject with a comment back to the partner, test data, filters", async () => {
    const ids = await seedImages(4, "review");
    const { id, partner } = await activeCampaign("review", "review@example.com", ids);
    const label = (imageId: number) => ({ image_id: imageId, objects: [{ label: "cat", bounding_box: box(1, 1, 5, 5) }] });
    await call(stack, "PUT", `/campaigns/${id}/objects`, partner, ids.map(label));
    await waitFor("completed", async () => (await call(stack, "GET", `/campaigns/${id}`, stack.admin)).body.status === "completed");

    expect((await call(stack, "PUT", `/campaigns/${id}/review`, stack.admin, { image_ids: [ids[0], ids[1]], decision: "approve" })).body).toBe("ok");
    const noComment = await call(stack, "PUT", `/campaigns/${id}/review`, stack.admin, { image_ids: [ids[2]], decision: "reject" });
    expect(noComment.status).toBe(422);
    expect((await call(stack, "PUT", `/campaigns/${id}/review`, stack.admin, { image_ids: [ids[2]], decision: "reject", comment: "box too loose" })).body).toBe(
      "ok",
    );
    expect((await call(stack, "PUT", `/campaigns/${id}/test_data`, stack.admin, { image_ids: [ids[3]], test_data: true })).body).toBe("ok");

    // Rejection sends the image back: out of `done`, and the campaign is active again for the partner.
    const after = await waitFor("done 3", async () => {
      const c = (await call(stack, "GET", `/campaigns/${id}`, stack.admin)).body;
      return c.progress.done === 3 ? c : undefined;
    });
    expect(after.status).toBe("active");
    const rejected = await call(stack, "GET", `/campaigns/${id}/images?label_status=rejected`, partner);
    expect(rejected.body.images).toEqual([expect.objectContaining({ image_id: ids[2], label_status: "rejected", review_comment: "box too loose" })]);
    expect(rejected.body.pagination.total).toBe(1);
    const approved = await call(stack, "GET", `/campaigns/${id}/objects?label_status=admin_complete`, stack.admin);
    expect(approved.body.images.map((i: any) => i.image_id)).toEqual([ids[0], ids[1]]);
    const test = await call(stack, "GET", `/campaigns/${id}/images?test_data=true`, stack.admin);
    expect(test.body.images.map((i: any) => i.image_id)).toEqual([ids[3]]);
    const notTestUserComplete = await call(stack, "GET", `/campaigns/${id}/images?test_data=false&label_status=user_complete,admin_complete`, stack.admin);
    expect(notTestUserComplete.body.pagination.total).toBe(2);

    // The partner fixes it; the campaign completes again by itself.
    await call(stack, "PUT", `/campaigns/${id}/objects`, partner, [label(ids[2]!)]);
    await waitFor("completed again", async () => (await call(stack, "GET", `/campaigns/${id}`, stack.admin)).body.status === "completed");
    const unknown = await call(stack, "PUT", `/campaigns/${id}/review`, stack.admin, { image_ids: [999_999], decision: "approve" });
    expect(unknown.status).toBe(422);
  });
});
