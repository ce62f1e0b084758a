import { clipBox, objectBox } from "../objects.js";
import type { ZipWriter } from "../zip.js";
import {
  collectLabels,
  EntryNamer,
  type FormatContext,
  hasPixelSize,
  imageRef,
  PassFingerprint,
  schemaIndex,
  validObjects,
  warnIfSourceChanged,
} from "./common.js";
import type { ExportSource } from "./types.js";

/**
 * YOLO detection labels (Ultralytics/darknet layout) as a zip, entries in this order:
 *
 * - `classes.txt`: the class names, one per line (LF, trailing newline), line n = class n; the translated labels
 *   of all well-formed objects sorted by Unicode code point. A line break inside a label becomes a space.
 * - `data.yaml`: `nc:` (class count) and `names:` (the same list, single-quoted YAML strings).
 * - `labels/<image blob path without its extension>.txt` per image, source order, also for images without objects
 *   (empty file = background image). One line per well-formed object in stored order:
 *   `class cx cy w h` — class is the 0-based index into classes.txt; the box (stored box, else polygon bounds) is
 *   first clipped to the image, then centre x/y and width/height are divided by the image width/height and written
 *   with 6 decimals (`toFixed(6)`, values in 0..1). Lines end with LF.
 *
 * Images without a positive width/height cannot be normalised and are skipped with a warning; so are objects
 * lying entirely outside the image. Two passes: labels first, then files, as for COCO.
 *
 * With a label schema (`options.classes`), classes.txt and data.yaml list every class of the schema in its order
 * (class n = schema entry n, 0-based), used or not, and the label pass is skipped; an object whose label is not
 * in the schema is skipped with a warning.
 */
export async function yoloExport(source: ExportSource, zip: ZipWriter, { stats, options }: FormatContext): Promise<void> {
  const schema = schemaIndex(options);
  const firstPass = schema ? undefined : new PassFingerprint();
  const classes = schema ?? (await collectLabels(source, firstPass!));
  const missing = schema ? "not one of the campaign's labels" : "not in the first pass";
  const names = classes.labels.map(singleLine);
  await zip.addBuffer("classes.txt", names.map((name) => `${name}\n`).join(""));
  await zip.addBuffer("data.yaml", yoloDataYaml(names));

  const namer = new EntryNamer("labels/", ".txt", stats);
  const secondPass = new PassFingerprint();
  for await (const image of source()) {
    secondPass.add(image.imageId);
    const objects = validObjects(image, stats);
    if (!hasPixelSize(image)) {
      stats.warn(`${imageRef(image)}: skipped: width/height (${image.width}x${image.height}) must be positive`);
      continue;
    }
    const name = namer.claim(image);
    if (name === null) continue;

    let text = "";
    let lines = 0;
    for (let i = 0; i < objects.length; i++) {
      const object = objects[i]!;
      const classIndex = classes.indexOf(object.label_translated);
      if (classIndex === undefined) {
        stats.warn(`${imageRef(image)}: object with label ${JSON.stringify(object.label_translated)} skipped: ${missing}`);
        continue;
      }
      const box = clipBox(objectBox(object), image.width, image.height);
      if (box === null) {
        stats.warn(`${imageRef(image)}: object with label ${JSON.stringify(object.label_translated)} skipped: box lies outside the image`);
        continue;
      }
      const cx = (box.xmin + box.xmax) / 2 / image.width;
      const cy = (box.ymin + box.ymax) / 2 / image.height;
      const w = (box.xmax - box.xmin) / image.width;
      const h = (box.ymax - box.ymin) / image.height;
      text += `${classIndex} ${cx.toFixed(6)} ${cy.toFixed(6)} ${w.toFixed(6)} ${h.toFixed(6)}\n`;
      lines++;
    }
    await zip.addBuffer(name, text);
    stats.images++;
    stats.objects += lines;
  }
  if (firstPass) warnIfSourceChanged(stats, firstPass, secondPass);
}

/** data.yaml for Ultralytics; train/val are left to the user, who places the images (see the comment). */
export function yoloDataYaml(names: string[]): string {
  const header =
    "# YOLO labels exported from a labeling campaign.\n" +
    "# Place each image at images/<blob path> beside labels/, then add train:/val: image folders or lists.\n";
  const list = names.length === 0 ? "names: []\n" : "names:\n" + names.map((name) => `  - ${yamlQuote(name)}\n`).join("");
  return `${header}nc: ${names.length}\n${list}`;
}

function singleLine(label: string): string {
  return label.replace(/[\r\n]+/g, " ");
}

/** A single-quoted YAML scalar: only `'` needs escaping (doubled). */
export function yamlQuote(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
