/**
 * Campaigns larger than one partition (bucket of 1,000 image ids), over real HTTP: a background addition
 * of 10,500 images, pages and filters across buckets, labeling that crosses bucket boundaries with exact
 * progress and completion.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contractTimestamp } from "../../shared/domain/time.js";
import { mapLimit } from "../../shared/util/concurrency.js";
import { recordImages } from "../support/seed.js";
import { call, startTestStack, waitFor, type TestStack } from "../support/stack.js";

let stack: TestStack;
let ids: number[];
beforeAll(async () => {
  stack = await startTestStack();
  ids = await recordImages(stack.host.services, "scale", 12_000);
}, 120_000);
afterAll(async () => stack?.stop());

const box = { xmin: 1, xmax: 10, ymin: 1, ymax: 10 };

async function newCampaign(title: string) {
  const created = await call(stack, "POST", "/campaigns", stack.admin, { title, labeler_email: `${title}@example.com` });
  expect(created.status).toBe(201);
  const token = created.body.access_token;
  return { id: created.body.campaign_id as number, partner: { "Authentication-Key": token.apikey, "Authentication-Secret": token.apisecret ?? "" } };
}

describe("campaigns across buckets", () => {
  it("adds 10,500 images in the background, then pages through them in id order", async () => {
    const { id } = await newCampaign("background");
    const wanted = ids.slice(0, 10_500);
    const answer = await call(
      stack,
      "POST",
      `/campaigns/${id}/images`,
      stack.admin,
      wanted.map((imageId) => ({ id: imageId })),
    );
    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({ campaign_id: id, status: "queued", images: { done: 0, total: 10_500 } });
    expect(answer.headers.get("location")).toBe(`/api/v1/campaigns/${id}/additions/${answer.body.addition_id}`);
    const done = await waitFor(
      "addition done",
      async () => {
        const addition = (await call(stack, "GET", `/campaigns/${id}/additions/${answer.body.addition_id}`, stack.admin)).body;
        return addition.status === "succeeded" || addition.status === "failed" ? addition : undefined;
      },
      120_000,
    );
    expect(done).toMatchObject({ status: "succeeded", images: { done: 10_500, total: 10_500 }, error: null });
    expect((await call(stack, "GET", `/campaigns/${id}`, stack.admin)).body.progress).toEqual({ done: 0, total: 10_500 });
    const last = (await call(stack, "GET", `/campaigns/${id}/images?page=11&per_page=1000`, stack.admin)).body;
    expect(last.pagination).toMatchObject({ page: 11, pages: 11, total: 10_500, next: null });
    expect(last.images.map((i: { image_id: number }) => i.image_id)).toEqual(wanted.slice(10_000));
    // An addition that overlaps counts each image once.
    expect(
      (
        await call(
          stack,
          "POST",
          `/campaigns/${id}/images`,
          stack.admin,
          ids.slice(10_400, 10_600).map((imageId) => ({ id: imageId })),
        )
      ).body,
    ).toBe("ok");
    expect((await call(stack, "GET", `/campaigns/${id}`, stack.admin)).body.progress.total).toBe(10_600);
    expect((await call(stack, "GET", `/campaigns/${id}/additions/nope`, stack.admin)).status).toBe(404);
  });

  it("refuses to activate a campaign while an addition is still running", async () => {
    const { id } = await newCampaign("pending-addition");
    expect((await call(stack, "POST", `/campaigns/${id}/images`, stack.admin, [{ id: ids[0] }])).body).toBe("ok");
    const pending = await stack.host.services.additions.create(id, {
      additionId: "20261202000000-00000000",
      imageIds: [ids[1]!],
      createdBy: "t",
      dateCreated: contractTimestamp(),
    });
    const refused = await call(stack, "PUT", `/campaigns/${id}`, stack.admin, { new_status: "active" });
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toMatch(/still adding images/);
    await stack.host.services.additions.update(id, pending.additionId, () => ({ status: "succeeded" }));
    expect((await call(stack, "PUT", `/campaigns/${id}`, stack.admin, { new_status: "active" })).body).toBe("ok");
  });

  it("counts progress and filtered lists exactly while partners label across bucket boundaries, and completes once", async () => {
    const { id, partner } = await newCampaign("crossing");
    const members = ids.slice(700, 3200); // buckets 0-3
    expect(
      (
        await call(
          stack,
          "POST",
          `/campaigns/${id}/images`,
          stack.admin,
          members.map((imageId) => ({ id: imageId })),
        )
      ).body,
    ).toBe("ok");
    expect((await call(stack, "PUT", `/campaigns/${id}`, stack.admin, { new_status: "active" })).body).toBe("ok");
    // Batches of 100 from an offset of 50, so many straddle a bucket boundary; four partners' requests at once.
    const batches = Array.from({ length: 25 }, (_, b) => members.slice(b * 100 + 50, b * 100 + 150)).filter((b) => b.length);
    const answers = await mapLimit([members.slice(0, 50), ...batches], 4, (batch) =>
      call(
        stack,
        "PUT",
        `/campaigns/${id}/objects`,
        partner,
        batch.map((imageId) => ({ image_id: imageId, objects: [{ label: "a", bounding_box: box }] })),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    const campaign = (await call(stack, "GET", `/campaigns/${id}`, stack.admin)).body;
    expect(campaign).toMatchObject({ status: "completed", progress: { done: 2500, total: 2500 } });

    // Review across the 1,000 and 2,000 boundaries, then filtered lists and latest labels page across buckets.
    const rejected = members.slice(280, 330).concat(members.slice(1290, 1310));
    expect((await call(stack, "PUT", `/campaigns/${id}/review`, stack.admin, { image_ids: rejected, decision: "reject", comment: "redo" })).body).toBe("ok");
    const after = (await call(stack, "GET", `/campaigns/${id}`, stack.admin)).body;
    expect(after).toMatchObject({ status: "active", progress: { done: 2430, total: 2500 } });
    const list = (await call(stack, "GET", `/campaigns/${id}/images?label_status=rejected&per_page=60`, stack.admin)).body;
    expect(list.pagination).toMatchObject({ total: 70, pages: 2 });
    const second = (await call(stack, "GET", `/campaigns/${id}/images?label_status=rejected&per_page=60&page=2`, stack.admin)).body;
    expect([...list.images, ...second.images].map((i: { image_id: number }) => i.image_id)).toEqual(rejected);
    const labels = (await call(stack, "POST", `/campaigns/${id}/latest_labels`, stack.admin, { label_status: "user_complete", page: 3, per_page: 1000 })).body;
    expect(labels.pagination).toMatchObject({ total: 2430, pages: 3 });
    expect(labels.labels).toHaveLength(430);
    // Relabeling the rejected images completes it again.
    expect(
      (
        await call(
          stack,
          "PUT",
          `/campaigns/${id}/objects`,
          partner,
          rejected.map((imageId) => ({ image_id: imageId, objects: [] })),
        )
      ).body,
    ).toBe("ok");
    expect((await call(stack, "GET", `/campaigns/${id}`, stack.admin)).body).toMatchObject({ status: "completed", progress: { done: 2500, total: 2500 } });
  });
});
