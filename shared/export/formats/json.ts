import { classIdAt } from "../../domain/labelSchemas.js";
import { type FormatContext, objectRecord, schemaIndex, validObjects } from "./common.js";
import type { ExportSource } from "./types.js";

/**
 * JSON label set: `{"images": [...]}`, UTF-8, one image per line (still a single JSON document), in source order,
 * images without objects included with `"objects": []`. Each image, keys in this order:
 *
 * - `image_id` (integer), `blobstorage_path` (path in the image container), `width`, `height` (pixels)
 * - `label_status` (`unlabeled` | `user_complete` | `admin_complete` | `rejected`), `test_data` (boolean)
 * - `labeled_at`, `last_activity_at`: ISO 8601 timestamps or null when never labeled
 * - `objects`: in stored order, malformed ones left out (reported as warnings), each
 *   `{label (as sent), label_translated, confidence (number|null), bounding_box ({xmin,xmax,ymin,ymax}|null),
 *   polygon ([[x,y],...]|null)}` — the same object shape as the CSV `objects` column (with `class_id` for a
 *   campaign with a label schema).
 *
 * With a label schema the document ends with `"classes": [{id, name}]`, every class in class-id order (1-based).
 */
export async function* jsonExport(source: ExportSource, { stats, options }: FormatContext): AsyncGenerator<string> {
  const schema = schemaIndex(options);
  yield '{"images":[';
  let first = true;
  for await (const image of source()) {
    const objects = validObjects(image, stats);
    stats.images++;
    stats.objects += objects.length;
    const record = {
      image_id: image.imageId,
      blobstorage_path: image.blobPath,
      width: image.width,
      height: image.height,
      label_status: image.labelStatus,
      test_data: image.testData,
      labeled_at: image.labeledAt ?? null,
      last_activity_at: image.lastActivityAt ?? null,
      objects: objects.map((object) => objectRecord(object, schema)),
    };
    yield (first ? "\n" : ",\n") + JSON.stringify(record);
    first = false;
  }
  if (!schema) {
    yield "\n]}\n";
    return;
  }
  yield '\n],"classes":[';
  yield schema.labels.map((name, i) => "\n" + JSON.stringify({ id: classIdAt(i), name })).join(",");
  yield "\n]}\n";
}
