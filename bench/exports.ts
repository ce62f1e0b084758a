/**
 * Export benchmark: streamed exporters against the same export built in memory.
 *
 * A seeded generator yields a campaign lazily (default 20,000 images x 10 objects = 200,000 objects, with one
 * malformed object per 1,000 to exercise the warning path). Each variant runs in its own child process (this file
 * re-invoked with `--child <variant>`) so its peak memory is its own: `maxRSS` from `process.resourceUsage()` and
 * the peak `heapUsed` sampled every 5 ms (plus at the in-memory variants' high points, where the event loop is
 * blocked). Output goes to a byte-counting Writable so the figures are the exporter's, not the disk's.
 *
 * Run: `npx tsx bench/exports.ts` (EXPORT_BENCH_IMAGES / EXPORT_BENCH_OBJECTS_PER_IMAGE change the size).
 */
import { spawn } from "node:child_process";
import { Writable } from "node:stream";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { ExportImage, LabelStatus } from "../shared/domain/labels.js";
import { CSV_COLUMNS, csvField, writeExport, type ExportFormat, type ExportSource } from "../shared/export/formats/index.js";
import { normaliseObject, objectArea, objectBox, boxToPolygon } from "../shared/export/objects.js";
import { seededRandom } from "./rng.js";

const IMAGES = Number(process.env.EXPORT_BENCH_IMAGES ?? 20_000);
const OBJECTS_PER_IMAGE = Number(process.env.EXPORT_BENCH_OBJECTS_PER_IMAGE ?? 10);
const SEED = 42;

const VARIANTS = ["coco-stream", "coco-memory", "csv-stream", "csv-memory", "json-stream", "yolo-stream", "voc-stream"] as const;
type Variant = (typeof VARIANTS)[number];

interface VariantResult {
  variant: Variant;
  objects: number;
  warnings: number;
  bytes: number;
  ms: number;
  /** User + system CPU time: steadier than wall time when the machine is shared. */
  cpuMs: number;
  baselineRssMb: number;
  maxRssMb: number;
  peakHeapMb: number;
}

// ---- campaign generator -------------------------------------------------------------------------------------

const LABELS = Array.from({ length: 24 }, (_, i) => `class-${String.fromCharCode(97 + i)}`);
const STATUSES: LabelStatus[] = ["unlabeled", "user_complete", "admin_complete", "rejected"];

export function benchSource(images = IMAGES, objectsPerImage = OBJECTS_PER_IMAGE): ExportSource {
  return async function* () {
    const next = seededRandom(SEED);
    let objectNumber = 0;
    for (let id = 1; id <= images; id++) {
      const width = 1920;
      const height = 1080;
      const objects: unknown[] = [];
      for (let k = 0; k < objectsPerImage; k++) {
        objectNumber++;
        const label = LABELS[Math.floor(next() * LABELS.length)]!;
        const x = next() * (width - 200);
        const y = next() * (height - 200);
        const w = 10 + next() * 190;
        const h = 10 + next() * 190;
        if (objectNumber % 1000 === 0) {
          objects.push({ label_original: label, label_translated: label, confidence: 0.5, bounding_box: { xmin: x, xmax: x, ymin: y, ymax: y + h } });
        } else if (k % 2 === 0) {
          objects.push({
            label_original: label,
            label_translated: label,
            confidence: next(),
            bounding_box: { xmin: x, xmax: x + w, ymin: y, ymax: y + h },
            polygon: null,
          });
        } else {
          const polygon: Array<[number, number]> = [];
          for (let p = 0; p < 6; p++) {
            const angle = (p / 6) * 2 * Math.PI;
            polygon.push([x + w / 2 + (Math.cos(angle) * w) / 2, y + h / 2 + (Math.sin(angle) * h) / 2]);
          }
          objects.push({ label_original: label, label_translated: label.toUpperCase(), confidence: null, bounding_box: null, polygon });
        }
      }
      const image: ExportImage = {
        imageId: id,
        blobPath: `uploads/set-${id % 20}/image-${id}.jpg`,
        width,
        height,
        filetype: "jpg",
        labelStatus: STATUSES[id % STATUSES.length]!,
        testData: id % 10 === 0,
        labeledAt: "2024-05-01T10:00:00.000Z",
        lastActivityAt: "2024-05-02T11:00:00.000Z",
        objects,
      };
      yield image;
    }
  };
}

// ---- in-memory baselines (what the exporters would look like without streaming) ------------------------------

async function cocoInMemory(source: ExportSource, sample: () => void): Promise<{ text: string; objects: number }> {
  const images: unknown[] = [];
  const annotations: Array<{ category_id: number | string } & Record<string, unknown>> = [];
  const labels = new Set<string>();
  for await (const image of source()) {
    images.push({ id: image.imageId, file_name: image.blobPath, width: image.width, height: image.height });
    for (const raw of image.objects) {
      const result = normaliseObject(raw);
      if (!result.ok) continue;
      const object = result.object;
      const box = objectBox(object);
      labels.add(object.label_translated);
      annotations.push({
        id: annotations.length + 1,
        image_id: image.imageId,
        category_id: object.label_translated,
        bbox: [box.xmin, box.ymin, box.xmax - box.xmin, box.ymax - box.ymin],
        segmentation: [(object.polygon ?? boxToPolygon(box)).flat()],
        area: objectArea(object),
        iscrowd: 0,
      });
    }
  }
  const names = [...labels].sort();
  const ids = new Map(names.map((name, i) => [name, i + 1]));
  for (const annotation of annotations) annotation.category_id = ids.get(annotation.category_id as string)!;
  const document = {
    info: { year: 2024, version: "1.0", description: "bench", contributor: "", url: "", date_created: new Date().toISOString() },
    licenses: [],
    images,
    annotations,
    categories: names.map((name, i) => ({ id: i + 1, name, supercategory: "object" })),
  };
  sample();
  const text = JSON.stringify(document);
  sample();
  return { text, objects: annotations.length };
}

async function csvInMemory(source: ExportSource, sample: () => void): Promise<{ text: string; objects: number }> {
  const rows: string[] = [CSV_COLUMNS.join(",") + "\r\n"];
  let count = 0;
  for await (const image of source()) {
    const objects = [];
    for (const raw of image.objects) {
      const result = normaliseObject(raw);
      if (!result.ok) continue;
      const o = result.object;
      objects.push({
        label: o.label_original,
        label_translated: o.label_translated,
        confidence: o.confidence,
        bounding_box: o.bounding_box,
        polygon: o.polygon,
      });
    }
    count += objects.length;
    const fields = [
      String(image.imageId),
      image.blobPath,
      String(image.width),
      String(image.height),
      image.labelStatus,
      String(image.testData),
      image.labeledAt ?? "",
      image.lastActivityAt ?? "",
      String(objects.length),
      JSON.stringify(objects),
    ];
    rows.push(fields.map(csvField).join(",") + "\r\n");
  }
  sample();
  const text = rows.join("");
  sample();
  return { text, objects: count };
}

// ---- child: one variant -------------------------------------------------------------------------------------

class CountingWritable extends Writable {
  bytes = 0;
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.bytes += typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk.length;
    callback();
  }
}

async function runVariant(variant: Variant): Promise<VariantResult> {
  let peakHeap = 0;
  const sample = (): void => {
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  };
  const baselineRss = process.memoryUsage().rss;
  const timer = setInterval(sample, 5);
  const source = benchSource();
  const out = new CountingWritable();
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  let objects: number;
  let warnings = 0;
  if (variant === "coco-memory" || variant === "csv-memory") {
    const { text, objects: written } = variant === "coco-memory" ? await cocoInMemory(source, sample) : await csvInMemory(source, sample);
    await new Promise<void>((resolve, reject) => out.end(text, (error?: Error | null) => (error ? reject(error) : resolve())));
    objects = written;
  } else {
    const format = variant.replace("-stream", "") as ExportFormat;
    const stats = await writeExport(format, source, out, { maxWarnings: 10 });
    objects = stats.objects;
    warnings = stats.warningCount;
  }
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpuStart);
  clearInterval(timer);
  sample();
  return {
    variant,
    objects,
    warnings,
    bytes: out.bytes,
    ms,
    cpuMs: (cpu.user + cpu.system) / 1000,
    baselineRssMb: baselineRss / 2 ** 20,
    maxRssMb: process.resourceUsage().maxRSS / 1024, // kilobytes on every platform Node supports
    peakHeapMb: peakHeap / 2 ** 20,
  };
}

// ---- parent: run every variant in a fresh process and compare ------------------------------------------------

function runChild(variant: Variant): Promise<VariantResult> {
  const script = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    // execArgv carries tsx's loader, so the child runs this TypeScript file the same way.
    const child = spawn(process.execPath, [...process.execArgv, script, "--child", variant], { stdio: ["ignore", "pipe", "inherit"] });
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      const line = stdout.split("\n").find((l) => l.startsWith("BENCH_RESULT "));
      if (code !== 0 || !line) return reject(new Error(`bench child ${variant} failed (exit ${code}): ${stdout}`));
      resolve(JSON.parse(line.slice("BENCH_RESULT ".length)) as VariantResult);
    });
  });
}

export async function runExportBench(log: (line: string) => void): Promise<void> {
  log(`exports: ${IMAGES} images x ${OBJECTS_PER_IMAGE} objects (${IMAGES * OBJECTS_PER_IMAGE} generated, 1 in 1000 malformed)`);
  const results = new Map<Variant, VariantResult>();
  for (const variant of VARIANTS) results.set(variant, await runChild(variant));

  const header = [
    "variant",
    "objects",
    "warnings",
    "output MB",
    "wall s",
    "cpu s",
    "objects/s",
    "objects/cpu-s",
    "peak heap MB",
    "max RSS MB",
    "RSS at start MB",
  ];
  const rows = [...results.values()].map((r) => [
    r.variant,
    String(r.objects),
    String(r.warnings),
    (r.bytes / 2 ** 20).toFixed(1),
    (r.ms / 1000).toFixed(2),
    (r.cpuMs / 1000).toFixed(2),
    Math.round(r.objects / (r.ms / 1000)).toLocaleString("en-US"),
    Math.round(r.objects / (r.cpuMs / 1000)).toLocaleString("en-US"),
    r.peakHeapMb.toFixed(0),
    r.maxRssMb.toFixed(0),
    r.baselineRssMb.toFixed(0),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const format = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  log(format(header));
  for (const row of rows) log(format(row));

  for (const kind of ["coco", "csv"] as const) {
    const stream = results.get(`${kind}-stream`)!;
    const memory = results.get(`${kind}-memory`)!;
    const extraRss = (r: VariantResult) => Math.max(1, r.maxRssMb - r.baselineRssMb);
    log(
      `${kind}: in-memory / streamed — peak heap ${(memory.peakHeapMb / stream.peakHeapMb).toFixed(1)}x, ` +
        `max RSS ${(memory.maxRssMb / stream.maxRssMb).toFixed(1)}x (above start: ${(extraRss(memory) / extraRss(stream)).toFixed(1)}x), ` +
        `wall time ${(memory.ms / stream.ms).toFixed(2)}x, cpu time ${(memory.cpuMs / stream.cpuMs).toFixed(2)}x` +
        // The CSV baseline builds the very same text; the COCO one is compact JSON (no line breaks).
        (kind === "csv" ? `; identical output: ${memory.bytes === stream.bytes ? "yes" : "NO"}` : ""),
    );
  }
}

const invokedDirectly = process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === import.meta.url;
if (invokedDirectly) {
  const childIndex = process.argv.indexOf("--child");
  if (childIndex >= 0) {
    const variant = process.argv[childIndex + 1] as Variant;
    if (!VARIANTS.includes(variant)) throw new Error(`unknown variant ${variant}`);
    const result = await runVariant(variant);
    process.stdout.write(`BENCH_RESULT ${JSON.stringify(result)}\n`);
  } else {
    await runExportBench((line) => console.log(line));
  }
}
