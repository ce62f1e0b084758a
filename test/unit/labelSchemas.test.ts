/**
 * Label schemas: the request rules (shared/domain/labelSchemas.ts, through the campaign request schemas), the
 * submission check, and the class ids every output derives from the schema's order.
 */
import { Writable } from "node:stream";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { createCampaignSchema, updateCampaignSchema } from "../../shared/domain/campaigns.js";
import { LIMITS } from "../../shared/domain/inputRules.js";
import type { ExportImage } from "../../shared/domain/labels.js";
import { labelSchemaProblem, parseStoredLabelSchema, storedLabelSchema, type LabelClass } from "../../shared/domain/labelSchemas.js";
import { prepareSubmission, submissionSchema } from "../../shared/domain/submissions.js";
import { ApiError } from "../../shared/errors.js";
import { writeExport, type ExportFormat, type ExportOptions } from "../../shared/export/formats/index.js";
import { buildClassIndex, orderedClassIndex } from "../../shared/masks/legend.js";
import { renderMask } from "../../shared/masks/render.js";
import { readZip } from "../support/zip.js";

const base = { title: "t", labeler_email: "a@example.com" };
const create = (extra: Record<string, unknown>) => createCampaignSchema.safeParse({ ...base, ...extra });
const issues = (result: { success: boolean; error?: { issues: Array<{ message: string; path: PropertyKey[] }> } }) =>
  (result.error?.issues ?? []).map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");

describe("label schema rules", () => {
  it("takes names trimmed, colours as #rrggbb stored lowercase, and keeps the order", () => {
    const parsed = create({ labels: [{ name: "  zebra " }, { name: "apple", color: "#A0b1C2" }, { name: "Apple", color: null }] });
    expect(parsed.success, issues(parsed)).toBe(true);
    expect(parsed.data!.labels).toEqual([
      { name: "zebra", color: null },
      { name: "apple", color: "#a0b1c2" },
      // Names are compared exactly: "Apple" and "apple" are two classes, as they are two labels.
      { name: "Apple", color: null },
    ]);
    expect(create({ labels: null }).data!.labels).toBeNull();
    expect(create({}).data!.labels).toBeUndefined();
  });

  it("refuses names that break the label rule, naming the entry", () => {
    for (const name of ["", "   ", "a\u0000b", "bell\u0007", "\ud800", "L".repeat(LIMITS.labelLength + 1)]) {
      const result = create({ labels: [{ name: "ok" }, { name }] });
      expect(result.success, JSON.stringify(name)).toBe(false);
      expect(issues(result)).toMatch(/^labels\.1\.name: name /);
    }
    expect(create({ labels: [{ name: "L".repeat(LIMITS.labelLength) }] }).success).toBe(true);
  });

  it("refuses duplicates (after trimming), naming both entries", () => {
    const result = create({ labels: [{ name: "car" }, { name: "bus" }, { name: " car" }] });
    expect(result.success).toBe(false);
    expect(issues(result)).toBe('labels.2.name: "car" repeats labels[0].name; names are unique (compared exactly, case-sensitive)');
  });

  it("refuses bad colours, unknown fields, an empty list and both sources at once", () => {
    for (const color of ["red", "#fff", "#12345g", "#1234567", "123456", 5])
      expect(create({ labels: [{ name: "a", color }] }).success, String(color)).toBe(false);
    expect(create({ labels: [{ name: "a", id: 1 }] }).success).toBe(false);
    expect(create({ labels: [] }).success).toBe(false);
    expect(create({ labels: "car" }).success).toBe(false);
    expect(issues(create({ labels: [{ name: "a" }], labels_from: 3 }))).toMatch(/labels_from: send labels or labels_from, not both/);
    for (const from of [0, -1, 1.5, "3", null]) expect(create({ labels_from: from }).success, String(from)).toBe(false);
    expect(create({ labels_from: 3 }).data!.labels_from).toBe(3);
  });

  it("allows at most 1,000 classes and 24 KiB of JSON as stored", () => {
    const names = (n: number, width = 1) => Array.from({ length: n }, (_, i) => ({ name: String(i).padStart(width, "0") }));
    expect(create({ labels: names(LIMITS.labelSchemaClasses) }).success).toBe(true);
    expect(issues(create({ labels: names(LIMITS.labelSchemaClasses + 1) }))).toMatch(/at most 1000 classes/);
    // 200 names of 120 characters: 200 * 133 bytes of JSON, over 24,576.
    const wide = create({ labels: names(200, 120) });
    expect(issues(wide)).toMatch(/^labels: labels is 26\d{3} bytes of JSON as stored; at most 24576$/);
    // The stored JSON of any accepted schema fits one table property (32K UTF-16 code units).
    const accepted: LabelClass[] = Array.from({ length: 180 }, (_, i) => ({ name: `${i}`.padStart(120, "é"), color: "#ffffff" }));
    const problem = labelSchemaProblem(accepted);
    expect(problem?.message ?? "").toMatch(/bytes of JSON/);
    const largest = accepted.slice(0, 90);
    expect(labelSchemaProblem(largest)).toBeNull();
    expect(storedLabelSchema(largest).length).toBeLessThan(32 * 1024);
  });

  it("stores the schema compactly and reads it back", () => {
    const classes: LabelClass[] = [
      { name: "car", color: "#ff0000" },
      { name: "bus", color: null },
    ];
    expect(storedLabelSchema(classes)).toBe('[{"name":"car","color":"#ff0000"},{"name":"bus"}]');
    expect(parseStoredLabelSchema(storedLabelSchema(classes))).toEqual(classes);
    expect(parseStoredLabelSchema("")).toBeNull();
    expect(parseStoredLabelSchema(undefined)).toBeNull();
    expect(parseStoredLabelSchema("not json")).toBeNull();
  });

  it("PUT /campaigns/{id} takes a status or a schema change, one at a time", () => {
    expect(updateCampaignSchema.safeParse({ new_status: "active" }).success).toBe(true);
    expect(updateCampaignSchema.safeParse({ labels: [{ name: "a" }] }).success).toBe(true);
    expect(updateCampaignSchema.safeParse({ labels: null }).success).toBe(true);
    expect(updateCampaignSchema.safeParse({ labels_from: 2 }).success).toBe(true);
    expect(issues(updateCampaignSchema.safeParse({}))).toMatch(/send new_status, or labels or labels_from/);
    expect(issues(updateCampaignSchema.safeParse({ new_status: "active", labels: [{ name: "a" }] }))).toMatch(/separate requests/);
    expect(issues(updateCampaignSchema.safeParse({ labels: [{ name: "a" }], labels_from: 2 }))).toMatch(/not both/);
    expect(updateCampaignSchema.safeParse({ labels: [{ name: "a" }, { name: "a" }] }).success).toBe(false);
  });
});

describe("submissions against a schema", () => {
  const sizes = new Map([
    [7, { width: 100, height: 100 }],
    [9, { width: 100, height: 100 }],
  ]);
  const box = { xmin: 1, xmax: 10, ymin: 1, ymax: 10 };
  const schema = new Set(["car", "bus"]);
  const prepare = (body: unknown, translations: Record<string, string> | null = null) =>
    prepareSubmission(submissionSchema.parse(body), sizes, translations, schema);
  const refusal = (run: () => unknown): ApiError => {
    try {
      run();
    } catch (error) {
      expect(error).toBeInstanceOf(ApiError);
      return error as ApiError;
    }
    throw new Error("expected a refusal");
  };

  it("accepts labels in the schema, directly or by translation", () => {
    const [first, second] = prepare(
      [
        { image_id: 7, objects: [{ label: "car", bounding_box: box }] },
        { image_id: 9, objects: [{ label: "Autobus", bounding_box: box }] },
      ],
      { Autobus: "bus" },
    );
    expect(first!.objects[0]!.label_translated).toBe("car");
    expect(second!.objects[0]).toMatchObject({ label_original: "Autobus", label_translated: "bus" });
  });

  it("refuses the whole batch with 422 naming the entry, the image and the label", () => {
    const error = refusal(() =>
      prepare([
        { image_id: 7, objects: [{ label: "car", bounding_box: box }] },
        {
          image_id: 9,
          objects: [
            { label: "bus", bounding_box: box },
            { label: "Car", bounding_box: box },
          ],
        },
      ]),
    );
    expect(error.status).toBe(422);
    expect(error.detail).toBe('body[1].objects[1].label: image 9: label "Car" is not one of the campaign\'s labels; nothing in this batch was stored');
  });

  it("names the translation when the translated label is outside", () => {
    const error = refusal(() => prepare([{ image_id: 7, objects: [{ label: "Kat", bounding_box: box }] }], { Kat: "cat" }));
    expect(error.detail).toMatch(/body\[0\]\.objects\[0\]\.label: image 7: label "Kat" \(translated to "cat"\) is not one of the campaign's labels/);
  });

  it("checks nothing without a schema", () => {
    const batch = submissionSchema.parse([{ image_id: 7, objects: [{ label: "anything", bounding_box: box }] }]);
    expect(prepareSubmission(batch, sizes, null)[0]!.objects[0]!.label_translated).toBe("anything");
  });
});

// ---------------------------------------------------------------------------------------------------
// Class ids in every output

const SCHEMA = ["zebra", "car", "apple", "unused"];
const object = (label: string, xmin = 0) => ({
  label_original: label,
  label_translated: label,
  confidence: null,
  bounding_box: { xmin, xmax: xmin + 4, ymin: 0, ymax: 4 },
  polygon: null,
});
const image = (imageId: number, labels: string[]): ExportImage => ({
  imageId,
  blobPath: `uploads/s/${imageId}.png`,
  width: 10,
  height: 10,
  filetype: "png",
  labelStatus: "admin_complete",
  testData: false,
  labeledAt: null,
  lastActivityAt: null,
  objects: labels.map((label, i) => object(label, i)),
});
/** Two campaigns with the same schema and different objects: "apple" only in one, "unused" in neither. */
const CAMPAIGN_A = [image(1, ["car", "zebra"]), image(2, ["apple"])];
const CAMPAIGN_B = [image(5, ["zebra"]), image(6, [])];

async function exported(format: ExportFormat, images: ExportImage[], options: ExportOptions = {}) {
  const chunks: Buffer[] = [];
  const out = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  const source = async function* () {
    yield* images;
  };
  const stats = await writeExport(format, source, out, { now: new Date("2024-06-01T00:00:00Z"), ...options });
  return { data: Buffer.concat(chunks), stats };
}

interface Coco {
  categories: Array<{ id: number; name: string }>;
  annotations: Array<{ image_id: number; category_id: number }>;
}
const coco = async (images: ExportImage[], options: ExportOptions = {}) => JSON.parse((await exported("coco", images, options)).data.toString()) as Coco;
const yolo = async (images: ExportImage[], options: ExportOptions = {}) => await readZip((await exported("yolo", images, options)).data);

describe("class ids from the schema", () => {
  it("COCO: categories are the schema in order, ids 1..n, unused classes included, in both campaigns alike", async () => {
    const a = await coco(CAMPAIGN_A, { classes: SCHEMA });
    const b = await coco(CAMPAIGN_B, { classes: SCHEMA });
    const expected = SCHEMA.map((name, i) => ({ id: i + 1, name, supercategory: "object" }));
    expect(a.categories).toEqual(expected);
    expect(b.categories).toEqual(expected);
    expect(a.annotations.map((x) => [x.image_id, x.category_id])).toEqual([
      [1, 2],
      [1, 1],
      [2, 3],
    ]);
    expect(b.annotations.map((x) => [x.image_id, x.category_id])).toEqual([[5, 1]]);
    // Without a schema: today's rule, the labels found sorted by code point.
    expect((await coco(CAMPAIGN_A)).categories.map((c) => [c.id, c.name])).toEqual([
      [1, "apple"],
      [2, "car"],
      [3, "zebra"],
    ]);
    expect((await coco(CAMPAIGN_B)).categories.map((c) => [c.id, c.name])).toEqual([[1, "zebra"]]);
  });

  it("YOLO: classes.txt and data.yaml list the schema, indices are 0-based in its order", async () => {
    for (const [images, labels] of [
      [CAMPAIGN_A, { "labels/uploads/s/1.txt": ["1", "0"], "labels/uploads/s/2.txt": ["2"] }],
      [CAMPAIGN_B, { "labels/uploads/s/5.txt": ["0"], "labels/uploads/s/6.txt": [] }],
    ] as const) {
      const files = await yolo(images, { classes: SCHEMA });
      expect(files.get("classes.txt")!.toString()).toBe("zebra\ncar\napple\nunused\n");
      expect(files.get("data.yaml")!.toString()).toMatch(/nc: 4\nnames:\n {2}- 'zebra'\n {2}- 'car'\n {2}- 'apple'\n {2}- 'unused'\n$/);
      for (const [name, classes] of Object.entries(labels)) {
        const lines = files.get(name)!.toString().split("\n").filter(Boolean);
        expect(lines.map((line) => line.split(" ")[0])).toEqual(classes);
      }
    }
    expect((await yolo(CAMPAIGN_A)).get("classes.txt")!.toString()).toBe("apple\ncar\nzebra\n");
  });

  it("CSV and JSON: class_id (1-based, as COCO) on each object; JSON lists the classes", async () => {
    const csv = (await exported("csv", CAMPAIGN_A, { classes: SCHEMA })).data.toString();
    expect(csv).toContain(
      '""label_translated"":""car"",""confidence"":null,""bounding_box"":{""xmin"":0,""xmax"":4,""ymin"":0,""ymax"":4},""polygon"":null,""class_id"":2}',
    );
    expect((await exported("csv", CAMPAIGN_A)).data.toString()).not.toContain("class_id");
    const json = JSON.parse((await exported("json", CAMPAIGN_A, { classes: SCHEMA })).data.toString()) as {
      images: Array<{ objects: Array<{ label_translated: string; class_id: number }> }>;
      classes: Array<{ id: number; name: string }>;
    };
    expect(json.images.flatMap((i) => i.objects.map((o) => [o.label_translated, o.class_id]))).toEqual([
      ["car", 2],
      ["zebra", 1],
      ["apple", 3],
    ]);
    expect(json.classes).toEqual(SCHEMA.map((name, i) => ({ id: i + 1, name })));
    const plain = JSON.parse((await exported("json", CAMPAIGN_A)).data.toString()) as Record<string, unknown>;
    expect(Object.keys(plain)).toEqual(["images"]);
  });

  it("VOC keeps names only", async () => {
    const files = await readZip((await exported("voc", CAMPAIGN_A, { classes: SCHEMA })).data);
    expect(files.get("Annotations/uploads/s/1.xml")!.toString()).toMatch(/<name>car<\/name>[\s\S]*<name>zebra<\/name>/);
  });

  it("an object outside the schema is skipped with a warning, never numbered", async () => {
    const strays = [image(3, ["car", "stray"])];
    const { stats } = await exported("coco", strays, { classes: SCHEMA });
    expect(stats.objects).toBe(1);
    expect(stats.warnings).toEqual(['image 3 (uploads/s/3.png): object with label "stray" skipped: not one of the campaign\'s labels']);
    const yoloRun = await exported("yolo", strays, { classes: SCHEMA });
    expect(yoloRun.stats.warnings).toEqual(['image 3 (uploads/s/3.png): object with label "stray" skipped: not one of the campaign\'s labels']);
    const csv = (await exported("csv", strays, { classes: SCHEMA })).data.toString();
    expect(csv).toContain('""class_id"":null');
  });

  it("semantic masks: values are the schema's class ids, and every class is in the legend", async () => {
    const classIndex = orderedClassIndex(SCHEMA);
    expect([...classIndex]).toEqual([
      ["zebra", 1],
      ["car", 2],
      ["apple", 3],
      ["unused", 4],
    ]);
    const rendered = await renderMask({ width: 10, height: 10, objects: CAMPAIGN_A[0]!.objects, mode: "filled_semantic", classIndex });
    expect(rendered.legend.values).toEqual(SCHEMA.map((label, i) => ({ value: i + 1, label })));
    const { data } = await sharp(rendered.png).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    // car at x 0..3, zebra on top at x 1..4 (later objects on top).
    expect([...data.subarray(0, 6)]).toEqual([2, 1, 1, 1, 1, 0]);
    // Without a schema the plan sorts the labels found, as before.
    expect([...orderedClassIndex([...buildClassIndex(["zebra", "car"]).keys()])]).toEqual([
      ["car", 1],
      ["zebra", 2],
    ]);
  });
});
