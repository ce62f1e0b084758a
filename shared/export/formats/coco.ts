import { boxToPolygon, objectArea, objectBox } from "../objects.js";
import type { Polygon } from "../../domain/labels.js";
import { type FormatContext, imageRef, LabelIndex, PassFingerprint, schemaIndex, validObjects, warnIfSourceChanged } from "./common.js";
import type { ExportSource } from "./types.js";

/**
 * COCO object detection JSON (https://cocodataset.org/#format-data), one document, UTF-8, keys in this order:
 *
 * - `info`: `{year, version, description, contributor, url, date_created}` (`date_created` ISO 8601, export time).
 * - `licenses`: `[]`.
 * - `images`: source order, every image (also those without objects):
 *   `{id: image_id, file_name: blob path in the image container (as exported images are named), width, height}`.
 * - `annotations`: one per well-formed object, source order then stored object order, ids 1..n:
 *   `{id, image_id, category_id, bbox: [x, y, w, h], segmentation: [[x1, y1, x2, y2, ...]], area, iscrowd: 0}`.
 *   `bbox` is the stored box, or the polygon's bounds when there is none. `segmentation` is the polygon, or the
 *   box's 4 corners clockwise from top-left when there is no polygon. `area` is the polygon's shoelace area, or
 *   `w * h` of the box. Coordinates are the stored pixel values, unrounded.
 * - `categories`: `{id, name: label_translated, supercategory}` for each translated label used by a well-formed
 *   object, sorted by Unicode code point, ids 1..n in that order (so ids are stable for the same label set). For a
 *   campaign with a label schema (`options.classes`): every class of the schema in its order, ids 1..n, whether
 *   or not an object uses it; an object whose label is not in the schema is skipped with a warning.
 *
 * Streaming: the first pass over the source writes `images` and collects the label set; the second writes the
 * annotations with known category ids; categories come last. Object warnings are reported by the second pass.
 */
export async function* cocoExport(source: ExportSource, { stats, options, now }: FormatContext): AsyncGenerator<string> {
  const schema = schemaIndex(options);
  const info = {
    year: now.getUTCFullYear(),
    version: options.coco?.version ?? "1.0",
    description: options.coco?.description ?? "Labeled images export",
    contributor: options.coco?.contributor ?? "",
    url: options.coco?.url ?? "",
    date_created: now.toISOString(),
  };
  yield `{"info":${JSON.stringify(info)},"licenses":[],"images":[`;

  const firstPass = new PassFingerprint();
  const labels = new Set<string>();
  let first = true;
  for await (const image of source()) {
    firstPass.add(image.imageId);
    if (!schema) for (const object of validObjects(image, null)) labels.add(object.label_translated);
    stats.images++;
    const record = { id: image.imageId, file_name: image.blobPath, width: image.width, height: image.height };
    yield (first ? "\n" : ",\n") + JSON.stringify(record);
    first = false;
  }
  const categories = schema ?? new LabelIndex(labels);
  const missing = schema ? "not one of the campaign's labels" : "not in the first pass";

  yield '\n],"annotations":[';
  const secondPass = new PassFingerprint();
  let annotationId = 0;
  for await (const image of source()) {
    secondPass.add(image.imageId);
    const objects = validObjects(image, stats);
    for (let i = 0; i < objects.length; i++) {
      const object = objects[i]!;
      const category = categories.indexOf(object.label_translated);
      if (category === undefined) {
        stats.warn(`${imageRef(image)}: object with label ${JSON.stringify(object.label_translated)} skipped: ${missing}`);
        continue;
      }
      const box = objectBox(object);
      const polygon: Polygon = object.polygon ?? boxToPolygon(box);
      const annotation = {
        id: ++annotationId,
        image_id: image.imageId,
        category_id: category + 1,
        bbox: [box.xmin, box.ymin, box.xmax - box.xmin, box.ymax - box.ymin],
        segmentation: [polygon.flat()],
        area: objectArea(object),
        iscrowd: 0,
      };
      stats.objects++;
      yield (annotationId === 1 ? "\n" : ",\n") + JSON.stringify(annotation);
    }
  }
  warnIfSourceChanged(stats, firstPass, secondPass);

  yield '\n],"categories":[';
  const supercategory = options.coco?.supercategory ?? "object";
  for (let i = 0; i < categories.labels.length; i++) {
    const category = { id: i + 1, name: categories.labels[i]!, supercategory };
    yield (i === 0 ? "\n" : ",\n") + JSON.stringify(category);
  }
  yield "\n]}\n";
}
