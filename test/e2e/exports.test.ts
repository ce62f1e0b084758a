import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ImageFacts } from "../../shared/repos/images.js";
import { png } from "../support/images.js";
import { call, startTestStack, waitFor, type TestStack } from "../support/stack.js";
import { readZip } from "../support/zip.js";

let stack: TestStack;
let campaignId: number;
let ids: number[];

/** Stores real image blobs at their paths and records them through the store's own code. */
async function storeImages(title: string, sizes: Array<[number, number]>): Promise<number[]> {
  const container = stack.host.services.clients.blobService.getContainerClient(stack.config.imageContainer);
  const facts: ImageFacts[] = [];
  for (const [i, [width, height]] of sizes.entries()) {
    const blobPath = `uploads/${title}/img-${i}.png`;
    const bytes = await png(width, height, i);
    await container.getBlockBlobClient(blobPath).uploadData(bytes);
    facts.push({
      blobPath,
      imagesetId: 1,
      imagesetTitle: title,
      width,
      height,
      filesize: bytes.length,
      filetype: "PNG",
      dateTaken: null,
      lat: null,
      lon: null,
    });
  }
  return (await stack.host.services.images.record(facts)).map((r) => r.imageId);
}

async function runExport(body: Record<string, unknown>, path = `/campaigns/${campaignId}/exports`, method = "POST") {
  const started = await call(stack, method, path, stack.admin, body);
  expect(started.status, JSON.stringify(started.body)).toBe(202);
  expect(started.body).toMatchObject({ status: "queued", download_url: null });
  const done = await waitFor(`export ${started.body.export_id}`, async () => {
    const r = (await call(stack, "GET", `/exports/${started.body.export_id}`, stack.admin)).body;
    return r.status === "succeeded" || r.status === "failed" ? r : undefined;
  });
  expect(done.status, done.error).toBe("succeeded");
  const file = Buffer.from(await (await fetch(done.download_url)).arrayBuffer());
  return { job: done, file };
}

beforeAll(async () => {
  stack = await startTestStack();
  ids = await storeImages("exp", [
    [20, 10],
    [16, 16],
    [30, 20],
    [8, 8],
  ]);
  const created = await call(stack, "POST", "/campaigns", stack.admin, {
    title: "exports",
    labeler_email: "exp@example.com",
    label_translations: { Kat: "cat" },
  });
  campaignId = created.body.campaign_id;
  await call(
    stack,
    "POST",
    `/campaigns/${campaignId}/images`,
    stack.admin,
    ids.map((id) => ({ id })),
  );
  await call(stack, "PUT", `/campaigns/${campaignId}`, stack.admin, { new_status: "active" });
  const partner = { "Authentication-Key": created.body.access_token.apikey, "Authentication-Secret": created.body.access_token.apisecret };
  const labels = [
    {
      image_id: ids[0],
      objects: [
        { label: "Kat", confidence: 0.9, bounding_box: { xmin: 2, xmax: 12, ymin: 1, ymax: 5 } },
        {
          label: "dog",
          polygon: [
            [0, 0],
            [8, 0],
            [0, 6],
          ],
        },
      ],
    },
    { image_id: ids[1], objects: [] },
    { image_id: ids[2], objects: [{ label: "dog", bounding_box: { xmin: 0, xmax: 30, ymin: 0, ymax: 20 } }] },
  ];
  expect((await call(stack, "PUT", `/campaigns/${campaignId}/objects`, partner, labels)).body).toBe("ok");
  await call(stack, "PUT", `/campaigns/${campaignId}/review`, stack.admin, { image_ids: [ids[0], ids[1]], decision: "approve" });
  await call(stack, "PUT", `/campaigns/${campaignId}/test_data`, stack.admin, { image_ids: [ids[1]], test_data: true });
});
afterAll(async () => stack?.stop());

describe("export jobs through the API", () => {
  it("filters by review status and test split, and counts what went in", async () => {
    const cases: Array<[Record<string, unknown>, number, number]> = [
      [{}, 2, 2],
      [{ label_status: "user_complete" }, 3, 3],
      [{ label_status: "all" }, 4, 3],
      [{ label_status: "all", test_data: true }, 1, 0],
      [{ label_status: "all", test_data: "false" }, 3, 3],
      [{ label_status: "all", start: "2999-01-01" }, 0, 0],
      [{ label_status: "all", end: "2000-01-01 00:00:00" }, 0, 0],
      [{ label_status: "all", last_activity_start: "2000-01-01" }, 3, 3],
    ];
    for (const [filters, images, objects] of cases) {
      const { job, file } = await runExport({ format: "json", ...filters });
      expect(job.counts, JSON.stringify(filters)).toEqual({ images, objects });
      expect(JSON.parse(file.toString()).images).toHaveLength(images);
    }
  });

  it("writes COCO that matches the stored boxes and polygons", async () => {
    const { job, file } = await runExport({ format: "coco", label_status: "user_complete" });
    const coco = JSON.parse(file.toString());
    expect(job.download_url).toMatch(/\.json\?/);
    expect(coco.categories.map((c: any) => [c.id, c.name])).toEqual([
      [1, "cat"],
      [2, "dog"],
    ]);
    expect(coco.images.map((i: any) => [i.id, i.file_name, i.width, i.height])).toEqual([
      [ids[0], "uploads/exp/img-0.png", 20, 10],
      [ids[1], "uploads/exp/img-1.png", 16, 16],
      [ids[2], "uploads/exp/img-2.png", 30, 20],
    ]);
    const [box, triangle, full] = coco.annotations;
    expect(box).toMatchObject({ image_id: ids[0], category_id: 1, bbox: [2, 1, 10, 4], area: 40, iscrowd: 0 });
    expect(triangle).toMatchObject({ image_id: ids[0], category_id: 2, bbox: [0, 0, 8, 6], area: 24, segmentation: [[0, 0, 8, 0, 0, 6]] });
    expect(full).toMatchObject({ image_id: ids[2], category_id: 2, bbox: [0, 0, 30, 20], area: 600 });
  });

  it("writes YOLO and VOC zips with a file per image, empty ones included", async () => {
    const yolo = await readZip((await runExport({ format: "yolo", label_status: "user_complete" })).file);
    expect(yolo.get("labels/uploads/exp/img-1.txt")?.toString()).toBe("");
    expect(yolo.get("labels/uploads/exp/img-0.txt")?.toString().trim().split(/\r?\n/)).toEqual([
      "0 0.350000 0.300000 0.500000 0.400000",
      "1 0.200000 0.300000 0.400000 0.600000",
    ]);
    expect(yolo.get("classes.txt")?.toString().trim().split(/\r?\n/)).toEqual(["cat", "dog"]);
    const voc = await readZip((await runExport({ format: "voc", label_status: "user_complete" })).file);
    const xml = voc.get("Annotations/uploads/exp/img-2.xml")?.toString() ?? "";
    expect(xml).toContain("<name>dog</name>");
    expect(xml).toContain("<width>30</width>");
    expect(voc.size).toBe(3);
  });

  it("lists past exports, renews the link on every GET, and refuses bad requests", async () => {
    const list = await call(stack, "GET", `/campaigns/${campaignId}/exports?per_page=100`, stack.admin);
    expect(list.body.exports.length).toBeGreaterThanOrEqual(10);
    const one = list.body.exports[0];
    const again = (await call(stack, "GET", `/exports/${one.export_id}`, stack.admin)).body;
    expect(again.download_url).toMatch(/^http/);
    for (const [body, status] of [
      [{ format: "pdf" }, 422],
      [{ format: "json", start: "2020-13-01" }, 422],
      [{ format: "json", label_status: "maybe" }, 422],
      [{ format: "masks" }, 422],
      [{ format: "json", gt_mode: "filled_polygon" }, 422],
      [{ format: "masks", output_folder: "../etc", gt_mode: "filled_polygon" }, 422],
      [{ format: "masks", output_folder: "downloads/x", gt_mode: "filled_polygon" }, 422],
      [{ format: "masks", output_folder: "gt/empty-suffix", suffix: "", gt_mode: "filled_polygon" }, 422],
    ] as const) {
      const r = await call(stack, "POST", `/campaigns/${campaignId}/exports`, stack.admin, body);
      expect(r.status, JSON.stringify(body)).toBe(status);
      expect(r.body.detail).toBeTypeOf("string");
    }
    expect((await call(stack, "GET", "/exports/nope", stack.admin)).status).toBe(404);
    expect((await call(stack, "POST", "/campaigns/9999/exports", stack.admin, { format: "csv" })).status).toBe(404);
  });

  it("renders ground-truth masks with the S3Label call, beside copies of the images, zipped", async () => {
    const { job, file } = await runExport(
      { output_folder: "gt/run1", suffix: "_gt4", gt_mode: "filled_polygon", label_status: "user_complete" },
      `/campaigns/${campaignId}/label_images`,
      "PUT",
    );
    expect(job.format).toBe("masks");
    expect(job.progress).toEqual({ done: 3, total: 3 });
    const zip = await readZip(file);
    expect([...zip.keys()].sort()).toEqual([
      "legend.json",
      "uploads/exp/img-0.png",
      "uploads/exp/img-0_gt4.json",
      "uploads/exp/img-0_gt4.png",
      "uploads/exp/img-1.png",
      "uploads/exp/img-1_gt4.json",
      "uploads/exp/img-1_gt4.png",
      "uploads/exp/img-2.png",
      "uploads/exp/img-2_gt4.json",
      "uploads/exp/img-2_gt4.png",
    ]);
    const mask = zip.get("uploads/exp/img-2_gt4.png")!;
    const meta = await sharp(mask).metadata();
    expect([meta.width, meta.height, meta.channels]).toEqual([30, 20, 1]);
    const pixels = await sharp(mask).extractChannel(0).raw().toBuffer();
    expect(pixels.every((v) => v === 255)).toBe(true);
    const empty = await sharp(zip.get("uploads/exp/img-1_gt4.png")).extractChannel(0).raw().toBuffer();
    expect(empty.every((v) => v === 0)).toBe(true);
    // The copied image is the stored image, byte for byte.
    const stored = await stack.host.services.clients.blobService
      .getContainerClient(stack.config.imageContainer)
      .getBlobClient("uploads/exp/img-0.png")
      .downloadToBuffer();
    expect(zip.get("uploads/exp/img-0.png")!.equals(stored)).toBe(true);

    // The folder is the job's own: a folder around it or inside it is refused, naming the job.
    for (const output_folder of ["gt", "gt/run1", "gt/run1/x"]) {
      const refused = await call(stack, "PUT", `/campaigns/${campaignId}/label_images`, stack.admin, { output_folder, gt_mode: "filled_polygon" });
      expect(refused.status, output_folder).toBe(409);
      expect(refused.body.detail).toContain(`belongs to export ${job.export_id}`);
    }

    const semantic = await readZip(
      (await runExport({ format: "masks", output_folder: "gt/sem", gt_mode: "filled_semantic", label_status: "user_complete" })).file,
    );
    const legend = JSON.parse(semantic.get("legend.json")!.toString());
    expect(legend.classes).toEqual([
      { value: 1, label: "cat" },
      { value: 2, label: "dog" },
    ]);
    const sem = await sharp(semantic.get("uploads/exp/img-2_gt.png")).extractChannel(0).raw().toBuffer();
    expect(sem.every((v) => v === 2)).toBe(true);
  });

  it("answers the latest labels S3Label-style, paged", async () => {
    const r = await call(stack, "POST", `/campaigns/${campaignId}/latest_labels`, stack.admin, {
      label_status: "user_complete",
      test_images: false,
      per_page: 1,
    });
    expect(r.status).toBe(200);
    expect(r.body.pagination).toMatchObject({ total: 2, pages: 2, per_page: 1 });
    expect(r.body.labels[0]).toMatchObject({ image_id: ids[0], label_status: "admin_complete" });
    expect(r.body.labels[0].objects[0]).toMatchObject({ label: "Kat", label_translated: "cat" });
  });
});
