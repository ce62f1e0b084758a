import { PassThrough, Readable, Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import yauzl from "yauzl";
import type { ExportImage } from "../../shared/domain/labels.js";
import {
  compareCodePoints,
  createExportStream,
  exportFileExtension,
  writeExport,
  type ExportFormat,
  type ExportOptions,
  type ExportSource,
  type ExportStats,
} from "../../shared/export/formats/index.js";
import { delimitedMLTable, imageFilesMLTable, labelSetMLTable, blobUri } from "../../shared/export/mltable.js";
import { boxToPolygon, normaliseObject, objectArea, polygonArea, polygonBounds } from "../../shared/export/objects.js";
import { portableCrc32, safeEntryPath, ZipWriter, type ZipWriterOptions } from "../../shared/export/zip.js";

const NOW = new Date("2024-06-01T00:00:00.000Z");
const BUS_PATH = 'uploads/set-2/bus & co, "big".jpeg';

/** A hand-built campaign: boxes, polygons, both, an image without objects, malformed objects, awkward names. */
const CAMPAIGN: ExportImage[] = [
  {
    imageId: 1,
    blobPath: "uploads/set-1/car.png",
    width: 640,
    height: 480,
    filetype: "png",
    labelStatus: "user_complete",
    testData: false,
    labeledAt: "2024-05-01T10:00:00.000Z",
    lastActivityAt: "2024-05-02T11:00:00.000Z",
    objects: [
      { label_original: "Car", label_translated: "car", confidence: 0.9, bounding_box: { xmin: 10, xmax: 50, ymin: 20, ymax: 60 }, polygon: null },
      // A trapezoid: parallel vertical sides of 150 and 50, 100 apart -> area (150 + 50) / 2 * 100 = 10000.
      {
        label_original: "person",
        label_translated: "person",
        confidence: null,
        bounding_box: null,
        polygon: [
          [100, 100],
          [200, 100],
          [200, 150],
          [100, 250],
        ],
      },
      { label_original: "car", label_translated: "car", confidence: 0.5, bounding_box: { xmin: 50, xmax: 40, ymin: 0, ymax: 10 }, polygon: null },
    ],
  },
  {
    imageId: 2,
    blobPath: "uploads/set-1/empty.jpg",
    width: 320,
    height: 240,
    filetype: "jpg",
    labelStatus: "unlabeled",
    testData: false,
    labeledAt: null,
    lastActivityAt: null,
    objects: [],
  },
  {
    imageId: 3,
    blobPath: BUS_PATH,
    width: 1000,
    height: 500,
    filetype: "jpeg",
    labelStatus: "admin_complete",
    testData: true,
    labeledAt: "2024-05-03T09:30:00.000Z",
    lastActivityAt: "2024-05-04T08:00:00.000Z",
    objects: [
      // Box and polygon: bbox from the box, area from the triangle (base 200, height 200 -> 20000).
      {
        label_original: "autobus",
        label_translated: "bus",
        confidence: 0.75,
        bounding_box: { xmin: 100.5, xmax: 300.5, ymin: 50, ymax: 250 },
        polygon: [
          [100.5, 50],
          [300.5, 50],
          [200.5, 250],
        ],
      },
      // No label_translated: falls back to the original label.
      { label_original: "Ümlaut <&>", confidence: 1, bounding_box: { xmin: 0, xmax: 1000, ymin: 0, ymax: 500 }, polygon: null },
      "garbage",
      // Sticks out of the image on the right: YOLO clips, VOC clamps, COCO keeps the stored box.
      { label_original: "🚗", label_translated: "🚗", bounding_box: { xmin: 900, xmax: 1100, ymin: 400, ymax: 500 } },
      // U+FF3A sorts before U+1F697 by code point, after it by UTF-16 code unit.
      {
        label_original: "z",
        label_translated: "Ｚ",
        confidence: 0.1,
        bounding_box: null,
        polygon: [
          [0, 0],
          [10, 0],
          [0, 10],
        ],
      },
    ],
  },
  {
    imageId: 4,
    // Same path as image 1 but the extension: its YOLO/VOC file name collides.
    blobPath: "uploads/set-1/car.jpg",
    width: 64,
    height: 48,
    filetype: "jpg",
    labelStatus: "rejected",
    testData: false,
    labeledAt: "2024-05-05T12:00:00.000Z",
    lastActivityAt: "2024-05-05T12:00:00.000Z",
    objects: [
      { label_original: "car", label_translated: "car", confidence: 0.3, bounding_box: { xmin: 0, xmax: 64, ymin: 0, ymax: 48 }, polygon: null },
      {
        label_original: "car",
        label_translated: "car",
        confidence: 0.3,
        bounding_box: null,
        polygon: [
          [1, 1],
          [2, 2],
        ],
      },
    ],
  },
];

const OBJECT_WARNINGS = [
  "image 1 (uploads/set-1/car.png): object 2 skipped: bounding_box xmin (50) must be < xmax (40)",
  `image 3 (${BUS_PATH}): object 2 skipped: not an object ("garbage")`,
  "image 4 (uploads/set-1/car.jpg): object 1 skipped: polygon needs at least 3 points (has 2)",
];

function sourceOf(images: ExportImage[]): ExportSource {
  return async function* () {
    yield* images;
  };
}

async function exportToBuffer(format: ExportFormat, images: ExportImage[] | ExportSource, options: ExportOptions = {}) {
  const chunks: Buffer[] = [];
  const out = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  const source = typeof images === "function" ? images : sourceOf(images);
  const stats = await writeExport(format, source, out, { now: NOW, ...options });
  return { data: Buffer.concat(chunks), stats };
}

/** Entries of a zip in archive order, as UTF-8 text. */
async function readZip(data: Buffer): Promise<Array<[string, string]>> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.fromBuffer(data, { lazyEntries: true }, (error, file) => (error ? reject(error) : resolve(file))),
  );
  const entries: Array<[string, string]> = [];
  await new Promise<void>((resolve, reject) => {
    zip.on("error", reject);
    zip.on("end", () => resolve());
    zip.on("entry", (entry: yauzl.Entry) => {
      zip.openReadStream(entry, (error, stream) => {
        if (error) return reject(error);
        const parts: Buffer[] = [];
        stream.on("data", (part: Buffer) => parts.push(part));
        stream.on("error", reject);
        stream.on("end", () => {
          entries.push([entry.fileName, Buffer.concat(parts).toString("utf8")]);
          zip.readEntry();
        });
      });
    });
    zip.readEntry();
  });
  return entries;
}

describe("csv export", () => {
  it("writes one RFC 4180 row per image with the objects as JSON", async () => {
    const { data, stats } = await exportToBuffer("csv", CAMPAIGN);
    const expected =
      "image_id,blobstorage_path,width,height,label_status,test_data,labeled_at,last_activity_at,object_count,objects\r\n" +
      '1,uploads/set-1/car.png,640,480,user_complete,false,2024-05-01T10:00:00.000Z,2024-05-02T11:00:00.000Z,2,"[' +
      '{""label"":""Car"",""label_translated"":""car"",""confidence"":0.9,""bounding_box"":{""xmin"":10,""xmax"":50,""ymin"":20,""ymax"":60},""polygon"":null},' +
      '{""label"":""person"",""label_translated"":""person"",""confidence"":null,""bounding_box"":null,""polygon"":[[100,100],[200,100],[200,150],[100,250]]}' +
      ']"\r\n' +
      "2,uploads/set-1/empty.jpg,320,240,unlabeled,false,,,0,[]\r\n" +
      '3,"uploads/set-2/bus & co, ""big"".jpeg",1000,500,admin_complete,true,2024-05-03T09:30:00.000Z,2024-05-04T08:00:00.000Z,4,"[' +
      '{""label"":""autobus"",""label_translated"":""bus"",""confidence"":0.75,""bounding_box"":{""xmin"":100.5,""xmax"":300.5,""ymin"":50,""ymax"":250},""polygon"":[[100.5,50],[300.5,50],[200.5,250]]},' +
      '{""label"":""Ümlaut <&>"",""label_translated"":""Ümlaut <&>"",""confidence"":1,""bounding_box"":{""xmin"":0,""xmax"":1000,""ymin"":0,""ymax"":500},""polygon"":null},' +
      '{""label"":""🚗"",""label_translated"":""🚗"",""confidence"":null,""bounding_box"":{""xmin"":900,""xmax"":1100,""ymin"":400,""ymax"":500},""polygon"":null},' +
      '{""label"":""z"",""label_translated"":""Ｚ"",""confidence"":0.1,""bounding_box"":null,""polygon"":[[0,0],[10,0],[0,10]]}' +
      ']"\r\n' +
      '4,uploads/set-1/car.jpg,64,48,rejected,false,2024-05-05T12:00:00.000Z,2024-05-05T12:00:00.000Z,1,"[' +
      '{""label"":""car"",""label_translated"":""car"",""confidence"":0.3,""bounding_box"":{""xmin"":0,""xmax"":64,""ymin"":0,""ymax"":48},""polygon"":null}' +
      ']"\r\n';
    expect(data.toString("utf8")).toBe(expected);
    expect(stats).toEqual({ images: 4, objects: 7, warnings: OBJECT_WARNINGS, warningCount: 3 });
  });

  it("writes only the header for an empty campaign", async () => {
    const { data, stats } = await exportToBuffer("csv", []);
    expect(data.toString()).toBe("image_id,blobstorage_path,width,height,label_status,test_data,labeled_at,last_activity_at,object_count,objects\r\n");
    expect(stats).toEqual({ images: 0, objects: 0, warnings: [], warningCount: 0 });
  });
});

describe("json export", () => {
  it("streams one document with every image and its well-formed objects", async () => {
    const { data, stats } = await exportToBuffer("json", CAMPAIGN);
    const text = data.toString("utf8");
    expect(text.split("\n")).toHaveLength(7); // opening, 4 images, closing, final newline
    expect(JSON.parse(text)).toEqual({
      images: [
        {
          image_id: 1,
          blobstorage_path: "uploads/set-1/car.png",
          width: 640,
          height: 480,
          label_status: "user_complete",
          test_data: false,
          labeled_at: "2024-05-01T10:00:00.000Z",
          last_activity_at: "2024-05-02T11:00:00.000Z",
          objects: [
            { label: "Car", label_translated: "car", confidence: 0.9, bounding_box: { xmin: 10, xmax: 50, ymin: 20, ymax: 60 }, polygon: null },
            {
              label: "person",
              label_translated: "person",
              confidence: null,
              bounding_box: null,
              polygon: [
                [100, 100],
                [200, 100],
                [200, 150],
                [100, 250],
              ],
            },
          ],
        },
        {
          image_id: 2,
          blobstorage_path: "uploads/set-1/empty.jpg",
          width: 320,
          height: 240,
          label_status: "unlabeled",
          test_data: false,
          labeled_at: null,
          last_activity_at: null,
          objects: [],
        },
        {
          image_id: 3,
          blobstorage_path: BUS_PATH,
          width: 1000,
          height: 500,
          label_status: "admin_complete",
          test_data: true,
          labeled_at: "2024-05-03T09:30:00.000Z",
          last_activity_at: "2024-05-04T08:00:00.000Z",
          objects: [
            {
              label: "autobus",
              label_translated: "bus",
              confidence: 0.75,
              bounding_box: { xmin: 100.5, xmax: 300.5, ymin: 50, ymax: 250 },
              polygon: [
                [100.5, 50],
                [300.5, 50],
                [200.5, 250],
              ],
            },
            { label: "Ümlaut <&>", label_translated: "Ümlaut <&>", confidence: 1, bounding_box: { xmin: 0, xmax: 1000, ymin: 0, ymax: 500 }, polygon: null },
            { label: "🚗", label_translated: "🚗", confidence: null, bounding_box: { xmin: 900, xmax: 1100, ymin: 400, ymax: 500 }, polygon: null },
            {
              label: "z",
              label_translated: "Ｚ",
              confidence: 0.1,
              bounding_box: null,
              polygon: [
                [0, 0],
                [10, 0],
                [0, 10],
              ],
            },
          ],
        },
        {
          image_id: 4,
          blobstorage_path: "uploads/set-1/car.jpg",
          width: 64,
          height: 48,
          label_status: "rejected",
          test_data: false,
          labeled_at: "2024-05-05T12:00:00.000Z",
          last_activity_at: "2024-05-05T12:00:00.000Z",
          objects: [{ label: "car", label_translated: "car", confidence: 0.3, bounding_box: { xmin: 0, xmax: 64, ymin: 0, ymax: 48 }, polygon: null }],
        },
      ],
    });
    expect(stats).toEqual({ images: 4, objects: 7, warnings: OBJECT_WARNINGS, warningCount: 3 });
  });

  it("is valid JSON for an empty campaign", async () => {
    const { data } = await exportToBuffer("json", []);
    expect(JSON.parse(data.toString())).toEqual({ images: [] });
  });
});

describe("coco export", () => {
  it("writes COCO detection JSON with code-point-sorted categories", async () => {
    const { data, stats } = await exportToBuffer("coco", CAMPAIGN, { coco: { description: "campaign 7" } });
    expect(JSON.parse(data.toString("utf8"))).toEqual({
      info: { year: 2024, version: "1.0", description: "campaign 7", contributor: "", url: "", date_created: "2024-06-01T00:00:00.000Z" },
      licenses: [],
      images: [
        { id: 1, file_name: "uploads/set-1/car.png", width: 640, height: 480 },
        { id: 2, file_name: "uploads/set-1/empty.jpg", width: 320, height: 240 },
        { id: 3, file_name: BUS_PATH, width: 1000, height: 500 },
        { id: 4, file_name: "uploads/set-1/car.jpg", width: 64, height: 48 },
      ],
      annotations: [
        // Box only: segmentation is the box's corners clockwise from top-left, area w * h.
        { id: 1, image_id: 1, category_id: 2, bbox: [10, 20, 40, 40], segmentation: [[10, 20, 50, 20, 50, 60, 10, 60]], area: 1600, iscrowd: 0 },
        // Polygon only: bbox from its bounds, shoelace area.
        { id: 2, image_id: 1, category_id: 3, bbox: [100, 100, 100, 150], segmentation: [[100, 100, 200, 100, 200, 150, 100, 250]], area: 10000, iscrowd: 0 },
        { id: 3, image_id: 3, category_id: 1, bbox: [100.5, 50, 200, 200], segmentation: [[100.5, 50, 300.5, 50, 200.5, 250]], area: 20000, iscrowd: 0 },
        { id: 4, image_id: 3, category_id: 4, bbox: [0, 0, 1000, 500], segmentation: [[0, 0, 1000, 0, 1000, 500, 0, 500]], area: 500000, iscrowd: 0 },
        { id: 5, image_id: 3, category_id: 6, bbox: [900, 400, 200, 100], segmentation: [[900, 400, 1100, 400, 1100, 500, 900, 500]], area: 20000, iscrowd: 0 },
        { id: 6, image_id: 3, category_id: 5, bbox: [0, 0, 10, 10], segmentation: [[0, 0, 10, 0, 0, 10]], area: 50, iscrowd: 0 },
        { id: 7, image_id: 4, category_id: 2, bbox: [0, 0, 64, 48], segmentation: [[0, 0, 64, 0, 64, 48, 0, 48]], area: 3072, iscrowd: 0 },
      ],
      categories: [
        { id: 1, name: "bus", supercategory: "object" },
        { id: 2, name: "car", supercategory: "object" },
        { id: 3, name: "person", supercategory: "object" },
        { id: 4, name: "Ümlaut <&>", supercategory: "object" },
        { id: 5, name: "Ｚ", supercategory: "object" },
        { id: 6, name: "🚗", supercategory: "object" },
      ],
    });
    // Warnings come from the annotation pass only, so each bad object is reported once.
    expect(stats).toEqual({ images: 4, objects: 7, warnings: OBJECT_WARNINGS, warningCount: 3 });
  });

  it("is valid COCO for an empty campaign", async () => {
    const { data } = await exportToBuffer("coco", []);
    const coco = JSON.parse(data.toString()) as Record<string, unknown>;
    expect(coco).toMatchObject({ licenses: [], images: [], annotations: [], categories: [] });
  });

  it("warns when the source changes between its two passes", async () => {
    let pass = 0;
    const source: ExportSource = async function* () {
      pass++;
      yield* pass === 1 ? CAMPAIGN.slice(0, 2) : [...CAMPAIGN.slice(0, 2), CAMPAIGN[3]!];
    };
    const { data, stats } = await exportToBuffer("coco", source);
    const coco = JSON.parse(data.toString()) as { images: unknown[]; annotations: Array<{ image_id: number }> };
    expect(coco.images).toHaveLength(2);
    expect(coco.annotations.map((a) => a.image_id)).toEqual([1, 1, 4]);
    expect(stats.warnings.at(-1)).toBe("source changed between export passes (2 images, then 3): image and annotation lists may not match");
  });
});

describe("yolo export", () => {
  it("zips classes, data.yaml and one normalised label file per image", async () => {
    const { data, stats } = await exportToBuffer("yolo", CAMPAIGN);
    expect(await readZip(data)).toEqual([
      ["classes.txt", "bus\ncar\nperson\nÜmlaut <&>\nＺ\n🚗\n"],
      [
        "data.yaml",
        "# YOLO labels exported from a labeling campaign.\n" +
          "# Place each image at images/<blob path> beside labels/, then add train:/val: image folders or lists.\n" +
          "nc: 6\n" +
          "names:\n  - 'bus'\n  - 'car'\n  - 'person'\n  - 'Ümlaut <&>'\n  - 'Ｚ'\n  - '🚗'\n",
      ],
      // car: centre (30, 40) / (640, 480), size (40, 40) / (640, 480); person: polygon bounds 100..200 x 100..250.
      ["labels/uploads/set-1/car.txt", "1 0.046875 0.083333 0.062500 0.083333\n2 0.234375 0.364583 0.156250 0.312500\n"],
      ["labels/uploads/set-1/empty.txt", ""],
      [
        'labels/uploads/set-2/bus & co, "big".txt',
        "0 0.200500 0.300000 0.200000 0.400000\n" +
          "3 0.500000 0.500000 1.000000 1.000000\n" +
          // 900..1100 clipped to 900..1000.
          "5 0.950000 0.900000 0.100000 0.200000\n" +
          "4 0.005000 0.010000 0.010000 0.020000\n",
      ],
      ["labels/uploads/set-1/car__4.txt", "1 0.500000 0.500000 1.000000 1.000000\n"],
    ]);
    expect(stats).toEqual({
      images: 4,
      objects: 7,
      warnings: [
        ...OBJECT_WARNINGS,
        "image 4 (uploads/set-1/car.jpg): labels/uploads/set-1/car.txt already used by another image, written as labels/uploads/set-1/car__4.txt",
      ],
      warningCount: 4,
    });
  });

  it("skips images without a usable size or path, with warnings", async () => {
    const bad: ExportImage[] = [
      { ...CAMPAIGN[1]!, imageId: 10, width: 0 },
      { ...CAMPAIGN[1]!, imageId: 11, blobPath: "../escape.png" },
      { ...CAMPAIGN[1]!, imageId: 12, blobPath: "/abs\\path/ok.png" },
    ];
    const { data, stats } = await exportToBuffer("yolo", bad);
    expect((await readZip(data)).map(([name]) => name)).toEqual(["classes.txt", "data.yaml", "labels/abs/path/ok.txt"]);
    expect(stats.images).toBe(1);
    expect(stats.warnings).toEqual([
      "image 10 (uploads/set-1/empty.jpg): skipped: width/height (0x240) must be positive",
      "image 11 (../escape.png): skipped: blob path cannot be used as a file name in the archive",
    ]);
  });
});

describe("voc export", () => {
  it("zips one Pascal VOC XML per image with 1-based inclusive integer boxes", async () => {
    const { data, stats } = await exportToBuffer("voc", CAMPAIGN);
    const object = (name: string, xmin: number, ymin: number, xmax: number, ymax: number) =>
      "  <object>\n" +
      `    <name>${name}</name>\n` +
      "    <pose>Unspecified</pose>\n" +
      "    <truncated>0</truncated>\n" +
      "    <difficult>0</difficult>\n" +
      "    <bndbox>\n" +
      `      <xmin>${xmin}</xmin>\n` +
      `      <ymin>${ymin}</ymin>\n` +
      `      <xmax>${xmax}</xmax>\n` +
      `      <ymax>${ymax}</ymax>\n` +
      "    </bndbox>\n" +
      "  </object>\n";
    expect(await readZip(data)).toEqual([
      [
        "Annotations/uploads/set-1/car.xml",
        "<annotation>\n" +
          "  <folder>uploads/set-1</folder>\n" +
          "  <filename>car.png</filename>\n" +
          "  <path>uploads/set-1/car.png</path>\n" +
          "  <size>\n    <width>640</width>\n    <height>480</height>\n    <depth>3</depth>\n  </size>\n" +
          "  <segmented>0</segmented>\n" +
          object("car", 11, 21, 50, 60) +
          object("person", 101, 101, 200, 250) +
          "</annotation>\n",
      ],
      [
        "Annotations/uploads/set-1/empty.xml",
        "<annotation>\n" +
          "  <folder>uploads/set-1</folder>\n" +
          "  <filename>empty.jpg</filename>\n" +
          "  <path>uploads/set-1/empty.jpg</path>\n" +
          "  <size>\n    <width>320</width>\n    <height>240</height>\n    <depth>3</depth>\n  </size>\n" +
          "  <segmented>0</segmented>\n" +
          "</annotation>\n",
      ],
      [
        'Annotations/uploads/set-2/bus & co, "big".xml',
        "<annotation>\n" +
          "  <folder>uploads/set-2</folder>\n" +
          "  <filename>bus &amp; co, &quot;big&quot;.jpeg</filename>\n" +
          "  <path>uploads/set-2/bus &amp; co, &quot;big&quot;.jpeg</path>\n" +
          "  <size>\n    <width>1000</width>\n    <height>500</height>\n    <depth>3</depth>\n  </size>\n" +
          "  <segmented>0</segmented>\n" +
          object("bus", 101, 51, 301, 250) +
          object("Ümlaut &lt;&amp;&gt;", 1, 1, 1000, 500) +
          object("🚗", 901, 401, 1000, 500) + // xmax 1100 clamped to the width
          object("Ｚ", 1, 1, 10, 10) +
          "</annotation>\n",
      ],
      [
        "Annotations/uploads/set-1/car__4.xml",
        "<annotation>\n" +
          "  <folder>uploads/set-1</folder>\n" +
          "  <filename>car.jpg</filename>\n" +
          "  <path>uploads/set-1/car.jpg</path>\n" +
          "  <size>\n    <width>64</width>\n    <height>48</height>\n    <depth>3</depth>\n  </size>\n" +
          "  <segmented>0</segmented>\n" +
          object("car", 1, 1, 64, 48) +
          "</annotation>\n",
      ],
    ]);
    expect(stats).toEqual({
      images: 4,
      objects: 7,
      warnings: [
        ...OBJECT_WARNINGS,
        "image 4 (uploads/set-1/car.jpg): Annotations/uploads/set-1/car.xml already used by another image, written as Annotations/uploads/set-1/car__4.xml",
      ],
      warningCount: 4,
    });
  });
});

describe("export plumbing", () => {
  it("names files by format", () => {
    expect(exportFileExtension("csv")).toBe(".csv");
    expect(exportFileExtension("json")).toBe(".json");
    expect(exportFileExtension("coco")).toBe(".json");
    expect(exportFileExtension("yolo")).toBe(".zip");
    expect(exportFileExtension("voc")).toBe(".zip");
  });

  it("keeps the first maxWarnings warnings and counts the rest", async () => {
    const { stats } = await exportToBuffer("csv", CAMPAIGN, { maxWarnings: 2 });
    expect(stats.warnings).toEqual(OBJECT_WARNINGS.slice(0, 2));
    expect(stats.warningCount).toBe(3);
  });

  it("pulls images only as fast as the consumer reads (no read-ahead of the whole campaign)", async () => {
    for (const format of ["csv", "yolo"] as const) {
      let produced = 0;
      const source: ExportSource = async function* () {
        for (let id = 1; id <= 50_000; id++) {
          produced++;
          yield { ...CAMPAIGN[0]!, imageId: id, blobPath: `uploads/${id}.png` };
        }
      };
      const { stream, stats } = createExportStream(format, source);
      // yolo reads the source once for labels before writing anything; count from the writing pass.
      await new Promise<void>((resolve) => stream.once("readable", () => resolve()));
      await new Promise((resolve) => setTimeout(resolve, 200));
      const firstPass = format === "yolo" ? 50_000 : 0;
      expect(produced - firstPass).toBeLessThan(5_000);
      stream.destroy();
      await expect(stats).rejects.toThrow();
    }
  });

  it("rejects (without hanging) when the source fails, for text and zip formats", async () => {
    const failing: ExportSource = async function* () {
      yield CAMPAIGN[0]!;
      throw new Error("table read failed");
    };
    for (const format of ["csv", "coco", "yolo", "voc"] as const) {
      await expect(exportToBuffer(format, failing)).rejects.toThrow("table read failed");
    }
  });

  it("rejects when the destination fails", async () => {
    const out = new Writable({
      write(_chunk, _encoding, callback) {
        callback(new Error("disk full"));
      },
    });
    await expect(writeExport("voc", sourceOf(CAMPAIGN), out)).rejects.toThrow("disk full");
    const out2 = new Writable({
      write(_chunk, _encoding, callback) {
        callback(new Error("disk full"));
      },
    });
    await expect(writeExport("json", sourceOf(CAMPAIGN), out2)).rejects.toThrow("disk full");
  });

  it("leaves the destination open with end: false", async () => {
    const out = new PassThrough();
    const stats: ExportStats = await writeExport("csv", sourceOf([]), out, { end: false });
    expect(stats.images).toBe(0);
    expect(out.writableEnded).toBe(false);
    out.end();
  });
});

describe("objects", () => {
  it("normalises well-formed objects and rejects malformed ones with a reason", () => {
    expect(normaliseObject({ label_original: "a", bounding_box: { xmin: 0, xmax: 1, ymin: 0, ymax: 1 } })).toEqual({
      ok: true,
      object: { label_original: "a", label_translated: "a", confidence: null, bounding_box: { xmin: 0, xmax: 1, ymin: 0, ymax: 1 }, polygon: null },
    });
    const reasons: Array<[unknown, string]> = [
      [null, "not an object (null)"],
      [[1, 2], "not an object (array of 2)"],
      [
        {
          label_translated: "a",
          polygon: [
            [0, 0],
            [1, 0],
            [0, 1],
          ],
        },
        "label_original must be a non-empty string (missing)",
      ],
      [
        {
          label_original: "a",
          label_translated: 5,
          polygon: [
            [0, 0],
            [1, 0],
            [0, 1],
          ],
        },
        "label_translated must be a non-empty string (5)",
      ],
      [
        {
          label_original: "a",
          confidence: "high",
          polygon: [
            [0, 0],
            [1, 0],
            [0, 1],
          ],
        },
        'confidence must be a finite number or null ("high")',
      ],
      [{ label_original: "a" }, "has neither bounding_box nor polygon"],
      [{ label_original: "a", bounding_box: { xmin: 0, xmax: Number.NaN, ymin: 0, ymax: 1 } }, "bounding_box xmax must be a finite number (NaN)"],
      [{ label_original: "a", bounding_box: { xmin: 0, xmax: 1, ymin: 2, ymax: 2 } }, "bounding_box ymin (2) must be < ymax (2)"],
      [
        {
          label_original: "a",
          polygon: [
            [0, 0],
            [1, "x"],
            [0, 1],
          ],
        },
        "polygon point 1 must be [x, y] with finite numbers (array of 2)",
      ],
      [
        {
          label_original: "a",
          polygon: [
            [0, 0],
            [1, 1],
            [2, 2],
            [3, 3],
          ].map(([x]) => [x, 0]),
        },
        "polygon is degenerate (zero width or height)",
      ],
    ];
    for (const [raw, reason] of reasons) expect(normaliseObject(raw)).toEqual({ ok: false, reason });
  });

  it("computes polygon geometry", () => {
    // Shoelace by hand for the trapezoid (100,100) (200,100) (200,150) (100,250):
    // 100*100-200*100 + 200*150-200*100 + 200*250-100*150 + 100*100-100*250 = -10000+10000+35000-15000 = 20000 -> 10000.
    expect(
      polygonArea([
        [100, 100],
        [200, 100],
        [200, 150],
        [100, 250],
      ]),
    ).toBe(10000);
    expect(
      polygonArea([
        [100, 250],
        [200, 150],
        [200, 100],
        [100, 100],
      ]),
    ).toBe(10000); // winding does not matter
    expect(
      polygonBounds([
        [3, 9],
        [1, 4],
        [7, 2],
      ]),
    ).toEqual({ xmin: 1, xmax: 7, ymin: 2, ymax: 9 });
    expect(boxToPolygon({ xmin: 1, xmax: 3, ymin: 2, ymax: 5 })).toEqual([
      [1, 2],
      [3, 2],
      [3, 5],
      [1, 5],
    ]);
    const both = {
      label_original: "a",
      label_translated: "a",
      confidence: null,
      bounding_box: { xmin: 0, xmax: 10, ymin: 0, ymax: 10 },
      polygon: [
        [0, 0],
        [10, 0],
        [0, 10],
      ] as Array<[number, number]>,
    };
    expect(objectArea(both)).toBe(50);
    expect(objectArea({ ...both, polygon: null })).toBe(100);
  });

  it("sorts by code point, not UTF-16 code unit", () => {
    const labels = ["🚗", "Ｚ", "b", "A", "é"];
    expect([...labels].sort(compareCodePoints)).toEqual(["A", "b", "é", "Ｚ", "🚗"]);
    expect([...labels].sort()).toEqual(["A", "b", "é", "🚗", "Ｚ"]); // what plain sort would do
  });
});

describe("zip writer", () => {
  async function zipBytes(options: ZipWriterOptions, fill: (zip: ZipWriter) => Promise<void>): Promise<Buffer> {
    const zip = new ZipWriter({ mtime: NOW, ...options });
    const chunks: Buffer[] = [];
    const collected = new Promise<void>((resolve, reject) => {
      zip.output.on("data", (chunk: Buffer) => chunks.push(chunk));
      zip.output.on("end", resolve);
      zip.output.on("error", reject);
    });
    await fill(zip);
    await zip.finish();
    await collected;
    return Buffer.concat(chunks);
  }

  const fill = async (zip: ZipWriter) => {
    await zip.addBuffer("a.txt", "alpha ".repeat(100)); // deflated
    await zip.addBuffer("tiny.txt", "x"); // stored: deflate would grow it
    await zip.addStream("dir/b.bin", Readable.from([Buffer.from("be"), Buffer.from("ta")]));
    await zip.addBuffer("empty.txt", Buffer.alloc(0));
    await zip.addStream("empty-stream.txt", Readable.from([]));
  };
  const expected = [
    ["a.txt", "alpha ".repeat(100)],
    ["tiny.txt", "x"],
    ["dir/b.bin", "beta"],
    ["empty.txt", ""],
    ["empty-stream.txt", ""],
  ];

  it("streams buffer and stream entries in order", async () => {
    expect(await readZip(await zipBytes({}, fill))).toEqual(expected);
  });

  it("writes readable ZIP64 records and stored entries", async () => {
    expect(await readZip(await zipBytes({ forceZip64: true }, fill))).toEqual(expected);
    expect(await readZip(await zipBytes({ compressionLevel: 0 }, fill))).toEqual(expected);
  });

  it("switches to ZIP64 end records past 65,535 entries", async () => {
    const data = await zipBytes({}, async (zip) => {
      for (let i = 0; i < 70_000; i++) await zip.addBuffer(`f/${i}.txt`, "");
    });
    const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
      yauzl.fromBuffer(data, { lazyEntries: true }, (error, file) => (error ? reject(error) : resolve(file))),
    );
    expect(zip.entryCount).toBe(70_000);
    zip.close();
  });

  it("computes CRC-32 without zlib.crc32 too", () => {
    const data = Buffer.from("The quick brown fox jumps over the lazy dog");
    expect(portableCrc32(data)).toBe(0x414fa339);
    expect(portableCrc32(data.subarray(10), portableCrc32(data.subarray(0, 10)))).toBe(0x414fa339);
  });

  it("refuses unsafe entry names", async () => {
    expect(safeEntryPath("a\\b//./c.txt")).toBe("a/b/c.txt");
    expect(safeEntryPath("a/../b")).toBeNull();
    expect(safeEntryPath("C:/x")).toBeNull();
    expect(safeEntryPath("/")).toBeNull();
    const zip = new ZipWriter();
    zip.output.resume();
    await expect(zip.addBuffer("../x", "x")).rejects.toThrow("invalid zip entry name");
    await zip.addBuffer("ok.txt", "x"); // a refused name does not break the archive
    await zip.finish();
  });

  it("fails pending entries when the reader goes away", async () => {
    const zip = new ZipWriter();
    zip.output.destroy();
    await expect(zip.addBuffer("a.txt", "a")).rejects.toThrow("closed before the archive was complete");
  });
});

describe("MLTable", () => {
  it("describes the images as a file dataset", () => {
    expect(imageFilesMLTable([{ pattern: blobUri("acct", "images", "/uploads/set-1/*.png") }, { file: "./it's.jpg" }])).toBe(
      "$schema: https://azuremlschemas.azureedge.net/latest/MLTable.schema.json\n" +
        "type: mltable\n" +
        "paths:\n" +
        "  - pattern: 'wasbs://images@acct.blob.core.windows.net/uploads/set-1/*.png'\n" +
        "  - file: './it''s.jpg'\n",
    );
  });

  it("describes the CSV label set as a delimited tabular dataset", () => {
    expect(labelSetMLTable("./labels.csv")).toBe(
      "$schema: https://azuremlschemas.azureedge.net/latest/MLTable.schema.json\n" +
        "type: mltable\n" +
        "paths:\n" +
        "  - file: './labels.csv'\n" +
        "transformations:\n" +
        "  - read_delimited:\n" +
        "      delimiter: ','\n" +
        "      encoding: utf8\n" +
        "      header: all_files_same_headers\n" +
        "      support_multi_line: true\n" +
        "      empty_as_string: false\n" +
        "      include_path_column: false\n",
    );
    const folder = delimitedMLTable([{ folder: "./csv/" }], { delimiter: ";", includePathColumn: true, inferColumnTypes: false });
    expect(folder).toContain("  - folder: './csv/'\n");
    expect(folder).toContain("      delimiter: ';'\n");
    expect(folder).toContain("      infer_column_types: false\n");
    expect(folder).toContain("      include_path_column: true\n");
    expect(() => imageFilesMLTable([])).toThrow();
  });
});
