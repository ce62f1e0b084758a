/**
 * Label schemas through the local host: declared at creation or copied with labels_from, fixed once the campaign
 * is active, enforced on submissions (refused whole, nothing stored), read by the partner, and numbering classes
 * identically in the exports (COCO, YOLO, semantic masks) of two campaigns with the same schema.
 */
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ImageFacts } from "../../shared/repos/images.js";
import { png } from "../support/images.js";
import { call, startTestStack, waitFor, type TestStack } from "../support/stack.js";
import { readZip } from "../support/zip.js";

let stack: TestStack;

/** Real image blobs (the mask export copies them), recorded through the store's own code. */
async function storeImages(title: string, count: number): Promise<number[]> {
  const container = stack.host.services.clients.blobService.getContainerClient(stack.config.imageContainer);
  const facts: ImageFacts[] = [];
  for (let i = 0; i < count; i++) {
    const blobPath = `uploads/${title}/img-${i}.png`;
    const bytes = await png(20, 10, i);
    await container.getBlockBlobClient(blobPath).uploadData(bytes);
    facts.push({
      blobPath,
      imagesetId: 1,
      imagesetTitle: title,
      width: 20,
      height: 10,
      filesize: bytes.length,
      filetype: "PNG",
      dateTaken: null,
      lat: null,
      lon: null,
    });
  }
  return (await stack.host.services.images.record(facts)).map((r) => r.imageId);
}

const SCHEMA = [{ name: "zebra", color: "#FF0000" }, { name: "car" }, { name: "apple", color: "#00aa00" }, { name: "unused" }];
/** The schema as the API shows it: colours lowercase, null when none. */
const SHOWN = [
  { name: "zebra", color: "#ff0000" },
  { name: "car", color: null },
  { name: "apple", color: "#00aa00" },
  { name: "unused", color: null },
];
const box = (xmin: number, xmax: number) => ({ xmin, xmax, ymin: 0, ymax: 10 });
const headers = (token: { apikey: string; apisecret: string | null }) => ({
  "Authentication-Key": token.apikey,
  "Authentication-Secret": token.apisecret ?? "",
});

interface Campaign {
  id: number;
  partner: Record<string, string>;
  images: number[];
}
let a: Campaign;
let b: Campaign;
let plain: Campaign;

async function campaignCount(): Promise<number> {
  return (await call(stack, "GET", "/campaigns", stack.admin)).body.pagination.total as number;
}

async function addAndActivate(campaign: Campaign): Promise<void> {
  const added = await call(
    stack,
    "POST",
    `/campaigns/${campaign.id}/images`,
    stack.admin,
    campaign.images.map((id) => ({ id })),
  );
  expect(added.body).toBe("ok");
  expect((await call(stack, "PUT", `/campaigns/${campaign.id}`, stack.admin, { new_status: "active" })).body).toBe("ok");
}

async function exportFile(campaignId: number, body: Record<string, unknown>): Promise<Buffer> {
  const started = await call(stack, "POST", `/campaigns/${campaignId}/exports`, stack.admin, { label_status: "all", ...body });
  expect(started.status, JSON.stringify(started.body)).toBe(202);
  const done = await waitFor(
    `export ${started.body.export_id}`,
    async () => {
      const r = (await call(stack, "GET", `/exports/${started.body.export_id}`, stack.admin)).body;
      return r.status === "succeeded" || r.status === "failed" ? r : undefined;
    },
    60_000,
  );
  expect(done.status, done.error).toBe("succeeded");
  return Buffer.from(await (await fetch(done.download_url)).arrayBuffer());
}

beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => stack?.stop());

describe("label schemas", () => {
  it("declares a schema at creation, copies it with labels_from, and refuses bad schemas and references leaving nothing", async () => {
    const created = await call(stack, "POST", "/campaigns", stack.admin, {
      title: "schema-a",
      labeler_email: "schema-a@example.com",
      labels: SCHEMA,
      label_translations: { Auto: "car", Kat: "cat" },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.labels).toEqual(SHOWN);
    a = { id: created.body.campaign_id, partner: headers(created.body.access_token), images: await storeImages("schema-a", 3) };
    expect((await call(stack, "GET", `/campaigns/${a.id}`, stack.admin)).body.labels).toEqual(SHOWN);

    const copied = await call(stack, "POST", "/campaigns", stack.admin, { title: "schema-b", labeler_email: "schema-b@example.com", labels_from: a.id });
    expect(copied.status, JSON.stringify(copied.body)).toBe(201);
    expect(copied.body.labels).toEqual(SHOWN);
    b = { id: copied.body.campaign_id, partner: headers(copied.body.access_token), images: await storeImages("schema-b", 2) };

    const none = await call(stack, "POST", "/campaigns", stack.admin, { title: "schema-none", labeler_email: "schema-none@example.com" });
    expect(none.body.labels).toBeNull();
    plain = { id: none.body.campaign_id, partner: headers(none.body.access_token), images: [] };

    const before = await campaignCount();
    const refused: Array<[Record<string, unknown>, RegExp]> = [
      [{ labels_from: 999_999 }, /labels_from: campaign 999999 does not exist/],
      [{ labels_from: plain.id }, new RegExp(`labels_from: campaign ${plain.id} has no label schema to copy`)],
      [{ labels: SCHEMA, labels_from: a.id }, /not both/],
      [{ labels: [{ name: "car" }, { name: "car " }] }, /body\.labels\[1\]\.name: "car" repeats labels\[0\]\.name/],
      [{ labels: [{ name: "car", color: "red" }] }, /color/],
      [{ labels: [] }, /at least one class/],
    ];
    for (const [extra, detail] of refused) {
      const r = await call(stack, "POST", "/campaigns", stack.admin, { title: "schema-refused", labeler_email: "schema-refused@example.com", ...extra });
      expect(r.status, JSON.stringify(extra)).toBe(422);
      expect(r.body.detail).toMatch(detail);
    }
    expect(await campaignCount()).toBe(before);
    // The refused requests reserved nothing: the e-mail still makes a new partner with a secret.
    const later = await call(stack, "POST", "/campaigns", stack.admin, { title: "schema-later", labeler_email: "schema-refused@example.com" });
    expect(later.body.access_token.apisecret).toEqual(expect.any(String));
  });

  it("changes the schema while created with PUT, and fixes it once the campaign is active (409)", async () => {
    expect((await call(stack, "PUT", `/campaigns/${b.id}`, stack.admin, { labels: [{ name: "other" }] })).body).toBe("ok");
    expect((await call(stack, "GET", `/campaigns/${b.id}`, stack.admin)).body.labels).toEqual([{ name: "other", color: null }]);
    expect((await call(stack, "PUT", `/campaigns/${b.id}`, stack.admin, { labels: null })).body).toBe("ok");
    expect((await call(stack, "GET", `/campaigns/${b.id}`, stack.admin)).body.labels).toBeNull();
    const fromNone = await call(stack, "PUT", `/campaigns/${b.id}`, stack.admin, { labels_from: plain.id });
    expect(fromNone.status).toBe(422);
    expect((await call(stack, "PUT", `/campaigns/${b.id}`, stack.admin, { labels_from: a.id })).body).toBe("ok");
    expect((await call(stack, "GET", `/campaigns/${b.id}`, stack.admin)).body.labels).toEqual(SHOWN);
    const both = await call(stack, "PUT", `/campaigns/${b.id}`, stack.admin, { labels: SCHEMA, new_status: "active" });
    expect(both.status).toBe(422);
    expect(both.body.detail).toMatch(/separate requests/);
    expect((await call(stack, "PUT", `/campaigns/424242`, stack.admin, { labels: SCHEMA })).status).toBe(404);

    await addAndActivate(a);
    await addAndActivate(b);
    for (const body of [{ labels: [{ name: "car" }] }, { labels: null }, { labels_from: b.id }, { labels: SCHEMA }]) {
      const r = await call(stack, "PUT", `/campaigns/${a.id}`, stack.admin, body);
      expect(r.status, JSON.stringify(body)).toBe(409);
      expect(r.body.detail).toMatch(/is active; its labels are fixed once it leaves created/);
    }
    expect((await call(stack, "GET", `/campaigns/${a.id}`, stack.admin)).body).toMatchObject({ status: "active", labels: SHOWN });
  });

  it("refuses a submission with a label outside the schema whole (422 naming entry, image and label) and stores nothing", async () => {
    const [first, second] = a.images;
    const refused: Array<[unknown, string]> = [
      [
        [
          { image_id: first, objects: [{ label: "car", bounding_box: box(0, 4) }] },
          {
            image_id: second,
            objects: [
              { label: "apple", bounding_box: box(0, 4) },
              { label: "dog", bounding_box: box(2, 6) },
            ],
          },
        ],
        `body[1].objects[1].label: image ${second}: label "dog" is not one of the campaign's labels`,
      ],
      [
        [{ image_id: first, objects: [{ label: "Kat", bounding_box: box(0, 4) }] }],
        `body[0].objects[0].label: image ${first}: label "Kat" (translated to "cat")`,
      ],
      // Exact names: "Car" is not "car".
      [[{ image_id: first, objects: [{ label: "Car", bounding_box: box(0, 4) }] }], `label "Car" is not one of`],
    ];
    for (const [body, detail] of refused) {
      const r = await call(stack, "PUT", `/campaigns/${a.id}/objects`, a.partner, body);
      expect(r.status).toBe(422);
      expect(r.body.detail).toContain(detail);
    }
    for (const imageId of a.images) {
      expect(await stack.host.services.campaigns.getImage(a.id, imageId)).toMatchObject({ labelStatus: "unlabeled", objects: [] });
      expect(await stack.host.services.labelBatches.history(a.id, imageId)).toEqual([]);
    }
    expect((await call(stack, "GET", `/campaigns/${a.id}`, stack.admin)).body.progress).toEqual({ done: 0, total: 3 });
  });

  it("accepts labels in the schema, directly or translated into it", async () => {
    const [first, second, third] = a.images;
    const labeled = await call(stack, "PUT", `/campaigns/${a.id}/objects`, a.partner, [
      // "Auto" is translated to "car"; zebra drawn later, on top.
      {
        image_id: first,
        objects: [
          { label: "Auto", bounding_box: box(0, 4) },
          { label: "zebra", bounding_box: box(10, 14) },
        ],
      },
      { image_id: second, objects: [{ label: "apple", bounding_box: box(0, 20) }] },
      { image_id: third, objects: [] },
    ]);
    expect(labeled.body).toBe("ok");
    const objects = (await call(stack, "GET", `/campaigns/${a.id}/objects`, stack.admin)).body.images[0].objects;
    expect(objects[0]).toMatchObject({ label: "Auto", label_translated: "car" });
    // Campaign B uses only zebra: apple, car and unused have no objects there.
    expect(
      (
        await call(stack, "PUT", `/campaigns/${b.id}/objects`, b.partner, [
          { image_id: b.images[0], objects: [{ label: "zebra", bounding_box: box(0, 4) }] },
          { image_id: b.images[1], objects: [] },
        ])
      ).body,
    ).toBe("ok");
  });

  it("numbers classes identically in the COCO, YOLO and semantic mask exports of two campaigns with the same schema, empty classes included", async () => {
    const categories = SCHEMA.map((c, i) => ({ id: i + 1, name: c.name, supercategory: "object" }));
    const cocoA = JSON.parse((await exportFile(a.id, { format: "coco" })).toString());
    const cocoB = JSON.parse((await exportFile(b.id, { format: "coco" })).toString());
    expect(cocoA.categories).toEqual(categories);
    expect(cocoB.categories).toEqual(categories);
    expect(cocoA.annotations.map((x: any) => [x.image_id, x.category_id])).toEqual([
      [a.images[0], 2],
      [a.images[0], 1],
      [a.images[1], 3],
    ]);
    expect(cocoB.annotations.map((x: any) => [x.image_id, x.category_id])).toEqual([[b.images[0], 1]]);
    // A second export of the same campaign numbers the same way.
    expect(JSON.parse((await exportFile(a.id, { format: "coco" })).toString()).categories).toEqual(categories);

    const yoloA = await readZip(await exportFile(a.id, { format: "yolo" }));
    const yoloB = await readZip(await exportFile(b.id, { format: "yolo" }));
    for (const zip of [yoloA, yoloB]) {
      expect(zip.get("classes.txt")!.toString()).toBe("zebra\ncar\napple\nunused\n");
      expect(zip.get("data.yaml")!.toString()).toContain("nc: 4\nnames:\n  - 'zebra'\n  - 'car'\n  - 'apple'\n  - 'unused'\n");
    }
    const classesOf = (text: string) =>
      text
        .split("\n")
        .filter(Boolean)
        .map((line) => line.split(" ")[0]);
    expect(classesOf(yoloA.get("labels/uploads/schema-a/img-0.txt")!.toString())).toEqual(["1", "0"]);
    expect(classesOf(yoloA.get("labels/uploads/schema-a/img-1.txt")!.toString())).toEqual(["2"]);
    expect(classesOf(yoloB.get("labels/uploads/schema-b/img-0.txt")!.toString())).toEqual(["0"]);

    const legends = [];
    for (const [campaign, folder] of [
      [a, "semantic-a"],
      [b, "semantic-b"],
    ] as const) {
      const zip = await readZip(await exportFile(campaign.id, { format: "masks", gt_mode: "filled_semantic", output_folder: folder }));
      legends.push(JSON.parse(zip.get("legend.json")!.toString()));
      if (campaign === a) {
        const imageLegend = JSON.parse(zip.get("uploads/schema-a/img-0_gt.json")!.toString());
        expect(imageLegend.values).toEqual(SCHEMA.map((c, i) => ({ value: i + 1, label: c.name })));
        const maskPng = zip.get("uploads/schema-a/img-0_gt.png");
        expect(maskPng, "the mask of img-0").toBeInstanceOf(Buffer);
        const mask = await sharp(maskPng).extractChannel(0).raw().toBuffer();
        // car (class 2) at x 0..3, zebra (class 1) at x 10..13, nothing elsewhere.
        expect([mask[0], mask[3], mask[5], mask[10], mask[13], mask[19]]).toEqual([2, 2, 0, 1, 1, 0]);
      }
    }
    expect(legends[0]).toEqual({ gt_mode: "filled_semantic", background: 0, classes: SCHEMA.map((c, i) => ({ value: i + 1, label: c.name })) });
    expect(legends[1]).toEqual(legends[0]);
  });

  it("lets the partner read its campaign's schema and translations, and refuses another partner", async () => {
    const expected = {
      campaign_id: a.id,
      labels: SHOWN.map((c, i) => ({ id: i + 1, ...c })),
      label_translations: { Auto: "car", Kat: "cat" },
    };
    const own = await call(stack, "GET", `/campaigns/${a.id}/labels`, a.partner);
    expect(own.status).toBe(200);
    expect(own.body).toEqual(expected);
    expect((await call(stack, "GET", `/campaigns/${a.id}/labels`, stack.admin)).body).toEqual(expected);
    const other = await call(stack, "GET", `/campaigns/${a.id}/labels`, b.partner);
    expect(other.status).toBe(404);
    expect(other.body.detail).toBeTypeOf("string");
    expect((await call(stack, "GET", `/campaigns/${a.id}/labels`, {})).status).toBe(401);
    expect((await call(stack, "GET", "/campaigns/424242/labels", stack.admin)).status).toBe(404);
    expect((await call(stack, "GET", `/campaigns/${plain.id}/labels`, plain.partner)).body).toEqual({
      campaign_id: plain.id,
      labels: null,
      label_translations: null,
    });
  });
});

describe("the finished campaign's label set", () => {
  it("carries each object's class_id from the schema", async () => {
    await waitFor("b completed", async () => (await call(stack, "GET", `/campaigns/${b.id}`, stack.admin)).body.status === "completed");
    expect((await call(stack, "PUT", `/campaigns/${b.id}`, stack.admin, { new_status: "finished" })).body).toBe("ok");
    await waitFor("b finished", async () => (await call(stack, "GET", `/campaigns/${b.id}`, stack.admin)).body.status === "finished", 60_000);
    const container = stack.host.services.clients.blobService.getContainerClient(stack.config.imageContainer);
    const csv = (await container.getBlockBlobClient("label_sets/schema-b_labels.csv").downloadToBuffer()).toString();
    expect(csv).toContain('""label_translated"":""zebra""');
    expect(csv).toContain('""class_id"":1}');
    // Once finished, the schema is as fixed as after activation, and the partner's access has ended.
    expect((await call(stack, "PUT", `/campaigns/${b.id}`, stack.admin, { labels: null })).status).toBe(409);
    expect((await call(stack, "GET", `/campaigns/${b.id}/labels`, b.partner)).status).toBe(403);
  });
});
