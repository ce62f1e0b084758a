import type { ExportImage, StoredObject } from "../../domain/labels.js";
import { normaliseObject } from "../objects.js";
import { safeEntryPath } from "../zip.js";
import type { ExportOptions, ExportSource, ExportStats } from "./types.js";

export const DEFAULT_MAX_WARNINGS = 1000;

/** Counts what an export wrote and keeps a bounded list of warnings. */
export class StatsCollector {
  images = 0;
  objects = 0;
  warningCount = 0;
  private readonly warnings: string[] = [];

  constructor(private readonly maxWarnings: number = DEFAULT_MAX_WARNINGS) {}

  warn(message: string): void {
    this.warningCount++;
    if (this.warnings.length < this.maxWarnings) this.warnings.push(message);
  }

  result(): ExportStats {
    return { images: this.images, objects: this.objects, warnings: [...this.warnings], warningCount: this.warningCount };
  }
}

export interface FormatContext {
  stats: StatsCollector;
  options: ExportOptions;
  now: Date;
}

/**
 * The image's well-formed objects in stored order. With `stats`, each rejected object becomes a warning; multi-pass
 * formats validate silently in the pass that only collects labels so a bad object is reported once.
 */
export function validObjects(image: ExportImage, stats: StatsCollector | null): StoredObject[] {
  const objects: StoredObject[] = [];
  const raw = Array.isArray(image.objects) ? image.objects : [];
  if (!Array.isArray(image.objects) && stats) stats.warn(`${imageRef(image)}: objects is not an array, written without objects`);
  for (let index = 0; index < raw.length; index++) {
    const result = normaliseObject(raw[index]);
    if (result.ok) objects.push(result.object);
    else stats?.warn(`${imageRef(image)}: object ${index} skipped: ${result.reason}`);
  }
  return objects;
}

export function imageRef(image: ExportImage): string {
  return `image ${image.imageId} (${image.blobPath})`;
}

/** Whether the image has a usable pixel size (needed to normalise YOLO coordinates). */
export function hasPixelSize(image: Pick<ExportImage, "width" | "height">): boolean {
  return Number.isFinite(image.width) && Number.isFinite(image.height) && image.width > 0 && image.height > 0;
}

/**
 * Orders strings by Unicode code point. Plain `<` compares UTF-16 code units, which puts astral characters
 * (surrogate pairs, e.g. emoji) before U+E000..U+FFFF; the fix-up maps code units so that both agree.
 */
export function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

/** The label set of a pass, sorted by code point, with each label's position. */
export class LabelIndex {
  readonly labels: string[];
  private readonly positions: Map<string, number>;

  constructor(labels: Iterable<string>) {
    this.labels = [...new Set(labels)].sort(compareCodePoints);
    this.positions = new Map(this.labels.map((label, index) => [label, index]));
  }

  /** 0-based position, or undefined for a label the first pass did not see. */
  indexOf(label: string): number | undefined {
    return this.positions.get(label);
  }
}

/**
 * An order-sensitive fingerprint of the image ids of one pass, so a multi-pass format can tell (without keeping the
 * ids) that the source changed between its passes.
 */
export class PassFingerprint {
  private hash = 0x811c9dc5;
  count = 0;

  add(imageId: number): void {
    this.hash = Math.imul(this.hash ^ (imageId | 0), 0x01000193) ^ Math.floor(imageId / 0x100000000);
    this.count++;
  }

  equals(other: PassFingerprint): boolean {
    return this.hash === other.hash && this.count === other.count;
  }
}

/** First pass of a two-pass format: the sorted label set, objects validated silently. */
export async function collectLabels(
  source: ExportSource,
  fingerprint: PassFingerprint,
  onImage?: (image: ExportImage) => void | Promise<void>,
): Promise<LabelIndex> {
  const labels = new Set<string>();
  for await (const image of source()) {
    fingerprint.add(image.imageId);
    for (const object of validObjects(image, null)) labels.add(object.label_translated);
    await onImage?.(image);
  }
  return new LabelIndex(labels);
}

export function warnIfSourceChanged(stats: StatsCollector, first: PassFingerprint, second: PassFingerprint): void {
  if (!first.equals(second)) {
    stats.warn(
      `source changed between export passes (${first.count} images, then ${second.count}): ` +
        "image and annotation lists may not match",
    );
  }
}

/** `uploads/set-1/car.png` -> `uploads/set-1/car`; only the last extension of the file name goes. */
export function withoutExtension(path: string): string {
  const slash = path.lastIndexOf("/");
  const dot = path.lastIndexOf(".");
  // A leading dot (".hidden") is a name, not an extension.
  return dot > slash + 1 ? path.slice(0, dot) : path;
}

/**
 * Hands out per-image entry names (`<prefix><image path without extension><suffix>`) in a zip. Two images whose
 * paths differ only by extension would collide; the later one gets `__<imageId>` appended and a warning. This keeps
 * one name per image: the only export state that grows with the number of images (never with objects).
 */
export class EntryNamer {
  private readonly taken = new Set<string>();

  constructor(
    private readonly prefix: string,
    private readonly suffix: string,
    private readonly stats: StatsCollector,
  ) {}

  /** The entry name, or null (with a warning) when the blob path cannot be a zip entry. */
  claim(image: ExportImage): string | null {
    const path = safeEntryPath(image.blobPath);
    if (path === null) {
      this.stats.warn(`${imageRef(image)}: skipped: blob path cannot be used as a file name in the archive`);
      return null;
    }
    const stem = withoutExtension(path);
    let name = `${this.prefix}${stem}${this.suffix}`;
    if (this.taken.has(name)) {
      let renamed = `${this.prefix}${stem}__${image.imageId}${this.suffix}`;
      for (let n = 2; this.taken.has(renamed); n++) renamed = `${this.prefix}${stem}__${image.imageId}_${n}${this.suffix}`;
      this.stats.warn(`${imageRef(image)}: ${name} already used by another image, written as ${renamed}`);
      name = renamed;
    }
    this.taken.add(name);
    return name;
  }
}

/** Joins small strings into ~64 KiB UTF-8 chunks: one stream write per row would dominate the export time. */
export async function* utf8Chunks(parts: AsyncIterable<string>, chunkChars = 64 * 1024): AsyncGenerator<Buffer> {
  let pending = "";
  for await (const part of parts) {
    pending += part;
    if (pending.length >= chunkChars) {
      yield Buffer.from(pending, "utf8");
      pending = "";
    }
  }
  if (pending.length > 0) yield Buffer.from(pending, "utf8");
}

/** The export's object shape in CSV and JSON: `label` is what the partner sent, as in the API. */
export function objectRecord(object: StoredObject) {
  return {
    label: object.label_original,
    label_translated: object.label_translated,
    confidence: object.confidence,
    bounding_box: object.bounding_box,
    polygon: object.polygon,
  };
}
