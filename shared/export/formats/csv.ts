import type { ExportImage } from "../../domain/labels.js";
import { type FormatContext, type LabelIndex, objectRecord, schemaIndex, validObjects } from "./common.js";
import type { ExportSource } from "./types.js";

/**
 * CSV label set: one row per image, in source order, including images without objects.
 *
 * UTF-8 without BOM, RFC 4180: comma separator, CRLF line ends, a header row, fields quoted (with `""` for a quote)
 * only when they contain `"`, `,`, CR or LF. Columns, in order:
 *
 * | column | value |
 * | --- | --- |
 * | `image_id` | integer image id |
 * | `blobstorage_path` | path of the image in the image container, e.g. `uploads/set-1/car.png` |
 * | `width`, `height` | image size in pixels |
 * | `label_status` | `unlabeled`, `user_complete`, `admin_complete` or `rejected` |
 * | `test_data` | `true` or `false` |
 * | `labeled_at`, `last_activity_at` | ISO 8601 timestamps of the first and latest submission; empty when never labeled |
 * | `object_count` | number of objects in `objects` |
 | `objects` | JSON array, objects in stored order (malformed ones left out and reported as warnings): `{"label": original label, "label_translated", "confidence": number or null, "bounding_box": {"xmin","xmax","ymin","ymax"} or null, "polygon": [[x, y], ...] or null}`, and for a campaign with a label schema `"class_id"` (the class's 1-based id in the schema, as COCO numbers it); `[]` when none |
 *
 * The JSON column keeps the row count equal to the image count (what the spec asks); per-object columns would
 * need one row per object. A JSON value holds no raw line break (JSON escapes them), so rows stay on one line unless
 * a blob path itself contains one.
 */
export const CSV_COLUMNS = [
  "image_id",
  "blobstorage_path",
  "width",
  "height",
  "label_status",
  "test_data",
  "labeled_at",
  "last_activity_at",
  "object_count",
  "objects",
] as const;

const LINE_END = "\r\n";

export async function* csvExport(source: ExportSource, { stats, options }: FormatContext): AsyncGenerator<string> {
  const schema = schemaIndex(options);
  yield CSV_COLUMNS.join(",") + LINE_END;
  for await (const image of source()) {
    yield csvRow(image, stats, schema);
  }
}

function csvRow(image: ExportImage, stats: FormatContext["stats"], schema: LabelIndex | undefined): string {
  const objects = validObjects(image, stats);
  stats.images++;
  stats.objects += objects.length;
  const fields = [
    String(image.imageId),
    image.blobPath,
    String(image.width),
    String(image.height),
    image.labelStatus,
    image.testData ? "true" : "false",
    image.labeledAt ?? "",
    image.lastActivityAt ?? "",
    String(objects.length),
    JSON.stringify(objects.map((object) => objectRecord(object, schema))),
  ];
  return fields.map(csvField).join(",") + LINE_END;
}

/** RFC 4180 field: quoted only when it has to be. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
