import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, startTestStack, uploadToDropbox, waitFor, type TestStack } from "../support/stack.js";
import { png } from "../support/images.js";

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => stack?.stop());

const progressOf = async (id: number) => (await call(stack, "GET", `/campaigns/${id}`, stack.admin)).body;

describe("the seed 001 notebook, top to bottom, over real HTTP", () => {
  it("image set, campaign, partner labels, progress, completion, reopen, relabel, finish", async () => {
    const set = (await call(stack, "POST", "/image_sets", stack.admin, { title: "imageset-26-10-2020", metadata: { country: "Nederland" } })).body;
    for (const [name, w, h] of [
      ["car.png", 200, 200],
      ["jayke.png", 310, 340],
      ["shadyguy_dark.png", 240, 203],
      ["four.png", 180, 160],
    ] as const) {
      await uploadToDropbox(set.dropbox_url, name, await png(w, h, name.length));
    }
    expect((await call(stack, "PUT", `/image_sets/${set.imageset_id}`, stack.admin, { new_status: "finished" })).body).toBe("ok");
    await waitFor("set finished", async () => (await call(stack, "GET", `/image_sets/${set.imageset_id}`, stack.admin)).body.status === "finished");

    const created = await call(stack, "POST", "/campaigns", stack.admin, {
      title: "campaign-26-10-2020",
      metadata: { to_be_used_for: "New train set" },
      labeler_email: "new_user@example.com",
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      title: "campaign-26-10-2020",
      status: "created",
      progress: { done: 0, total: 0 },
      label_translations: null,
      date_started: null,
      date_completed: null,
      date_finished: null,
      metadata: { to_be_used_for: "New train set" },
    });
    const campaignId = created.body.campaign_id as number;
    const { apikey, apisecret } = created.body.access_token;
    expect(apikey).toMatch(/^[0-9a-f]{32}$/);
    expect(apisecret).toMatch(/^[0-9a-f]{32}$/);
    const partner = { "Authentication-Key": apikey, "Authentication-Secret": apisecret };

    const images = (await call(stack, "GET", "/images", stack.admin)).body.images;
    const ids = images.map((i: any) => i.image_id).sort((a: number, b: number) => a - b);
    expect(ids).toEqual([1, 2, 3, 4]);
    expect(
      (
        await call(
          stack,
          "POST",
          `/campaigns/${campaignId}/images`,
          stack.admin,
          ids.map((id: number) => ({ id })),
        )
      ).body,
    ).toBe("ok");
    expect(await progressOf(campaignId)).toMatchObject({ status: "created", progress: { done: 0, total: 4 } });
    expect((await call(stack, "PUT", `/campaigns/${campaignId}`, stack.admin, { new_status: "active" })).body).toBe("ok");

    const listed = await call(stack, "GET", `/campaigns/${campaignId}/images`, partner);
    expect(listed.status).toBe(200);
    expect(listed.body.images.map((i: any) => ({ image_id: i.image_id, url: i.url }))).toEqual(
      ids.map((id: number) => ({ image_id: id, url: `/images/${id}` })),
    );
    expect(listed.body.pagination).toEqual({ next: null, page: 1, pages: 1, per_page: 1000, prev: null, total: 4 });
    const fetched = await call(stack, "GET", "/images/1", partner);
    expect(fetched.status).toBe(303);
    expect((await fetch(fetched.headers.get("location")!)).status).toBe(200);

    const firstBatch = [
      {
        image_id: 1,
        objects: [
          { label: "Plastic", confidence: 1, bounding_box: { xmin: 13, xmax: 57, ymin: 123, ymax: 198 } },
          { label: "Organic", confidence: 0.56, bounding_box: { xmin: 26, xmax: 98, ymin: 12, ymax: 54 } },
        ],
      },
      {
        image_id: 2,
        objects: [
          { label: "Wood", confidence: 0.12, bounding_box: { xmin: 74, xmax: 172, ymin: 91, ymax: 112 } },
          { label: "Plastic", confidence: 0.93, bounding_box: { xmin: 58, xmax: 124, ymin: 68, ymax: 98 } },
        ],
      },
    ];
    expect((await call(stack, "PUT", `/campaigns/${campaignId}/objects`, partner, firstBatch)).body).toBe("ok");
    await waitFor("2/4", async () => (await progressOf(campaignId)).progress.done === 2);
    expect(await progressOf(campaignId)).toMatchObject({ status: "active", progress: { done: 2, total: 4 } });

    const secondBatch = [
      { image_id: 3, objects: [{ label: "Plastic", confidence: 0.433, bounding_box: { xmin: 83, xmax: 153, ymin: 91, ymax: 145 } }] },
      { image_id: 4, objects: [] },
    ];
    expect((await call(stack, "PUT", `/campaigns/${campaignId}/objects`, partner, secondBatch)).body).toBe("ok");
    const completed = await waitFor("completed", async () => {
      const c = await progressOf(campaignId);
      return c.status === "completed" ? c : undefined;
    });
    expect(completed.progress).toEqual({ done: 4, total: 4 });
    expect(completed.date_completed).toMatch(/Z$/);

    // Completed: no more labels until reopened.
    expect((await call(stack, "PUT", `/campaigns/${campaignId}/objects`, partner, secondBatch)).status).toBe(409);
    expect((await call(stack, "PUT", `/campaigns/${campaignId}`, stack.admin, { new_status: "active" })).body).toBe("ok");
    const relabel = [
      {
        image_id: 4,
        objects: [
          {
            label: "Wood",
            polygon: [
              [1, 1],
              [50, 1],
              [25, 40],
            ],
          },
        ],
      },
    ];
    expect((await call(stack, "PUT", `/campaigns/${campaignId}/objects`, partner, relabel)).body).toBe("ok");
    const objects = await call(stack, "GET", `/images/4/objects?campaigns=${campaignId}`, stack.admin);
    // The v1 contract answers the JSON array of objects itself.
    expect(objects.body).toEqual([
      {
        label: "Wood",
        label_original: "Wood",
        label_translated: "Wood",
        confidence: null,
        bounding_box: null,
        polygon: [
          [1, 1],
          [50, 1],
          [25, 40],
        ],
      },
    ]);
    const history = await call(stack, "GET", `/campaigns/${campaignId}/images/4/history`, stack.admin);
    expect(history.body.submissions.map((s: any) => s.objects.length)).toEqual([0, 1]);
    expect((await progressOf(campaignId)).progress).toEqual({ done: 4, total: 4 });

    expect((await call(stack, "PUT", `/campaigns/${campaignId}`, stack.admin, { new_status: "completed" })).body).toBe("ok");
    expect((await call(stack, "PUT", `/campaigns/${campaignId}`, stack.admin, { new_status: "finished" })).body).toBe("ok");
    const finished = await waitFor("finished", async () => {
      const c = await progressOf(campaignId);
      return c.status === "finished" ? c : undefined;
    });
    expect(finished.date_finished).toMatch(/Z$/);
    expect(finished.finish_notes.join(" ")).toMatch(/no Azure ML workspace configured/);

    // The finishing outputs: the label set (one row per image) and the two MLTable datasets beside the data.
    const store = stack.host.services.clients.blobService.getContainerClient(stack.config.imageContainer);
    const csv = (await store.getBlobClient("label_sets/campaign-26-10-2020_labels.csv").downloadToBuffer()).toString("utf8");
    const rows = csv.trimEnd().split("\r\n");
    expect(rows[0]).toBe("image_id,blobstorage_path,width,height,label_status,test_data,labeled_at,last_activity_at,object_count,objects");
    expect(rows).toHaveLength(5);
    expect(rows[1]).toMatch(/^1,uploads\/imageset-26-10-2020\/[a-z_]+\.png,\d+,\d+,user_complete,false,/);
    const labelsTable = (await store.getBlobClient("datasets/campaign-26-10-2020_labels/MLTable").downloadToBuffer()).toString();
    expect(labelsTable).toContain("read_delimited");
    expect(labelsTable).toContain("../../label_sets/campaign-26-10-2020_labels.csv");
    const imagesTable = (await store.getBlobClient("datasets/campaign-26-10-2020_images/MLTable").downloadToBuffer()).toString();
    expect(imagesTable.match(/- file:/g)).toHaveLength(4);
  });
});
