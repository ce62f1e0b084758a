import type { ExportImage, StoredObject } from "../../domain/labels.js";
import { classIdAt } from "../../domain/labelSchemas.js";
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

/** How a warning names an image: `image <id> (<blob path>)`, so a reader can find it by either. */
export function imageRef(image: Pick<ExportImage, "imageId" | "blobPath">): string {
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

  constructor(labels: Iterable<string>, order: "sorted" | "as given" = "sorted") {
    const unique = [...new Set(labels)];
    this.labels = order === "sorted" ? unique.sort(compareCodePoints) : unique;
    this.positions = new Map(this.labels.map((label, index) => [label, index]));
  }

  /** A campaign's label schema: its classes in their own order, used or not. */
  static ofSchema(classes: readonly string[]): LabelIndex {
    return new LabelIndex(classes, "as given");
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
    stats.warn(`source changed between export passes (${first.count} images, then ${second.count}): ` + "image and annotation lists may not match");
  }
}

/** `uploads/set-1/car.png` -> `uploads/set-1/car`; only the last extension of the file name goes. */
export function withoutExtension(path: string): string {
  const slash = path.lastIndexOf("/");
  const dot = path.lastIndexOf(".");
  // A leading dot (".hidden") is a name, not an extension.
  return dot > slash + 1 ? path.slice(0, dot) : path;
}

/** What a namer needs of an image: its id (for `__<id>`) and its blob path (the default names). */
export type NamedImage = Pick<ExportImage, "imageId" | "blobPath">;

/** The names one image gets, or null (with a warning) when its blob path cannot be a file name. */
export interface ClaimedNames {
  /** The image path without its extension, `__<imageId>` (and `_<n>`) appended when renamed. */
  stem: string;
  /** The image path's extension (`.png`, `` when none), kept as it is. */
  extension: string;
  /** The names `names(stem, extension)` gave, in that order. */
  names: string[];
  renamed: boolean;
}

/**
 * The one rule for per-image output names in one namespace (a zip, a mask folder). Each image's names derive from
 * its path without extension (the stem); when any of them is taken already, the image's stem becomes
 * `<stem>__<imageId>` (then `__<imageId>_2`, `_3`, ...) and a warning names the clash:
 * `image <id> (<path>): <name> already used by another image, written as <renamed>`. Images are claimed in a fixed
 * order (image id), so the same images always get the same names. Keeps one set entry per name: the only export
 * state that grows with the number of images (never with objects).
 */
export class UniqueNamer {
  private readonly taken = new Set<string>();
  private readonly key: (name: string) => string;

  constructor(
    private readonly stats: Pick<StatsCollector, "warn">,
    options: {
      /** Compare names ignoring case (for outputs unpacked on case-insensitive file systems). */
      caseInsensitive?: boolean;
      /** Names that are never handed out (e.g. a legend written beside the images). */
      reserved?: Iterable<string>;
    } = {},
  ) {
    this.key = options.caseInsensitive ? (name) => name.toLowerCase() : (name) => name;
    for (const name of options.reserved ?? []) this.taken.add(this.key(name));
  }

  claim(image: NamedImage, names: (stem: string, extension: string) => string[]): ClaimedNames | null {
    const path = safeEntryPath(image.blobPath);
    if (path === null) {
      this.stats.warn(`${imageRef(image)}: skipped: blob path cannot be used as a file name in the archive`);
      return null;
    }
    const base = withoutExtension(path);
    const extension = path.slice(base.length);
    const wanted = names(base, extension);
    const clash = wanted.findIndex((name) => this.taken.has(this.key(name)));
    let stem = base;
    let chosen = wanted;
    if (clash >= 0) {
      const free = (candidate: string[]) => candidate.every((name) => !this.taken.has(this.key(name)));
      stem = `${base}__${image.imageId}`;
      chosen = names(stem, extension);
      for (let n = 2; !free(chosen); n++) {
        stem = `${base}__${image.imageId}_${n}`;
        chosen = names(stem, extension);
      }
      this.stats.warn(`${imageRef(image)}: ${wanted[clash]} already used by another image, written as ${chosen[clash]}`);
    }
    for (const name of chosen) this.taken.add(this.key(name));
    return { stem, extension, names: chosen, renamed: clash >= 0 };
  }
}

/**
 * Hands out per-image entry names (`<prefix><image path without extension><suffix>`) in a zip, by the
 * `UniqueNamer` rule: two images whose paths differ only by extension would collide; the later one gets
 * `__<imageId>` appended and a warning.
 */
export class EntryNamer {
  private readonly namer: UniqueNamer;

  constructor(
    private readonly prefix: string,
    private readonly suffix: string,
    stats: StatsCollector,
  ) {
    this.namer = new UniqueNamer(stats);
  }

  /** The entry name, or null (with a warning) when the blob path cannot be a zip entry. */
  claim(image: ExportImage): string | null {
    return this.namer.claim(image, (stem) => [`${this.prefix}${stem}${this.suffix}`])?.names[0] ?? null;
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

/**
 * The export's object shape in CSV and JSON: `label` is what the partner sent, as in the API. With a label schema
 * (`schema`), `class_id` follows: the class's 1-based id (COCO's category id), null for a label outside it.
 */
export function objectRecord(object: StoredObject, schema?: LabelIndex) {
  const record = {
    label: object.label_original,
    label_translated: object.label_translated,
    confidence: object.confidence,
    bounding_box: object.bounding_box,
    polygon: object.polygon,
  };
  if (!schema) return record;
  const index = schema.indexOf(object.label_translated);
  return { ...record, class_id: index === undefined ? null : classIdAt(index) };
}

/** The schema's index when the export has one (ExportOptions.classes), else undefined. */
export const schemaIndex = (options: ExportOptions): LabelIndex | undefined => (options.classes ? LabelIndex.ofSchema(options.classes) : undefined);
