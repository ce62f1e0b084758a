import type { BoundingBox, ExportImage, StoredObject } from "../../domain/labels.js";
import { objectBox } from "../objects.js";
import type { ZipWriter } from "../zip.js";
import { EntryNamer, type FormatContext, hasPixelSize, validObjects } from "./common.js";
import type { ExportSource } from "./types.js";

/**
 * Pascal VOC XML as a zip: `Annotations/<image blob path without its extension>.xml` per image, source order, also
 * for images without objects. UTF-8, no XML declaration (as VOC's own files), 2-space indentation, LF:
 *
 * ```xml
 * <annotation>
 *   <folder>directory of the blob path ("" at the root)</folder>
 *   <filename>file name of the blob path</filename>
 *   <path>the blob path</path>
 *   <size><width/><height/><depth>3</depth></size>
 *   <segmented>0</segmented>
 *   <object> per well-formed object, stored order:
 *     <name>label_translated</name><pose>Unspecified</pose><truncated>0</truncated><difficult>0</difficult>
 *     <bndbox><xmin/><ymin/><xmax/><ymax/></bndbox>
 *   </object>
 * </annotation>
 * ```
 *
 * Rounding: stored boxes (the box, else the polygon's bounds) are continuous pixel-edge coordinates starting at 0;
 * VOC counts pixels from 1 and its max corner is inclusive. So each box becomes the 1-based pixels it touches:
 * `xmin = floor(xmin) + 1`, `ymin = floor(ymin) + 1`, `xmax = ceil(xmax)`, `ymax = ceil(ymax)`, clamped to
 * `1..width` / `1..height` (e.g. 10.0-50.0 -> 11-50, the 40 pixels 10..49 counted from 0). Text is XML-escaped and
 * characters XML 1.0 forbids are replaced by U+FFFD.
 */
export async function vocExport(source: ExportSource, zip: ZipWriter, { stats }: FormatContext): Promise<void> {
  const namer = new EntryNamer("Annotations/", ".xml", stats);
  for await (const image of source()) {
    const objects = validObjects(image, stats);
    const name = namer.claim(image);
    if (name === null) continue;
    await zip.addBuffer(name, vocXml(image, objects));
    stats.images++;
    stats.objects += objects.length;
  }
}

export function vocXml(image: ExportImage, objects: StoredObject[]): string {
  const path = image.blobPath;
  const slash = path.lastIndexOf("/");
  const lines = [
    "<annotation>",
    `  <folder>${xmlText(slash >= 0 ? path.slice(0, slash) : "")}</folder>`,
    `  <filename>${xmlText(slash >= 0 ? path.slice(slash + 1) : path)}</filename>`,
    `  <path>${xmlText(path)}</path>`,
    "  <size>",
    `    <width>${image.width}</width>`,
    `    <height>${image.height}</height>`,
    "    <depth>3</depth>",
    "  </size>",
    "  <segmented>0</segmented>",
  ];
  for (const object of objects) {
    const box = vocBox(objectBox(object), image);
    lines.push(
      "  <object>",
      `    <name>${xmlText(object.label_translated)}</name>`,
      "    <pose>Unspecified</pose>",
      "    <truncated>0</truncated>",
      "    <difficult>0</difficult>",
      "    <bndbox>",
      `      <xmin>${box.xmin}</xmin>`,
      `      <ymin>${box.ymin}</ymin>`,
      `      <xmax>${box.xmax}</xmax>`,
      `      <ymax>${box.ymax}</ymax>`,
      "    </bndbox>",
      "  </object>",
    );
  }
  lines.push("</annotation>");
  return lines.join("\n") + "\n";
}

/** Continuous 0-based box -> VOC's 1-based inclusive pixel box (see vocExport). */
export function vocBox(box: BoundingBox, image: Pick<ExportImage, "width" | "height">): BoundingBox {
  let xmin = Math.floor(box.xmin) + 1;
  let ymin = Math.floor(box.ymin) + 1;
  let xmax = Math.ceil(box.xmax);
  let ymax = Math.ceil(box.ymax);
  if (hasPixelSize(image)) {
    xmin = clamp(xmin, 1, image.width);
    xmax = clamp(xmax, xmin, image.width);
    ymin = clamp(ymin, 1, image.height);
    ymax = clamp(ymax, ymin, image.height);
  }
  return { xmin, xmax, ymin, ymax };
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(Math.max(value, min), max);
}

/** Escapes XML text and replaces characters XML 1.0 cannot carry (control characters, lone surrogates). */
export function xmlText(value: string): string {
  return value
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, "\uFFFD")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}
