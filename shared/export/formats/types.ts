import type { ExportImage } from "../../domain/labels.js";

import { EXPORT_FORMATS, type ExportFormat } from "../../domain/exports.js";

export { EXPORT_FORMATS, type ExportFormat };

/** What an export wrote, for the export record: images and objects written, and warnings about malformed stored data. */
export interface ExportStats {
  /** Images written (for COCO: image records; for YOLO/VOC: label files). */
  images: number;
  /** Objects written (rows in the objects column, annotations, YOLO lines, VOC objects). */
  objects: number;
  /** The first `maxWarnings` warnings, each naming the image id (and object index) that was skipped. */
  warnings: string[];
  /** All warnings, including those not kept in `warnings`. */
  warningCount: number;
}

/**
 * The campaign's images in a stable order. Each call must start a fresh iteration over the same snapshot:
 * COCO and YOLO read it twice (first the label set, then the annotations).
 */
export type ExportSource = () => AsyncIterable<ExportImage>;

export interface CocoInfoOptions {
  description?: string;
  version?: string;
  contributor?: string;
  url?: string;
  /** `supercategory` of every category (default "object"): stored labels carry no hierarchy. */
  supercategory?: string;
}

/** Options every format takes, all optional; the export jobs pin `now` to the export's creation time. */
export interface ExportOptions {
  /** How many warning texts to keep (default 1000); the rest are only counted. */
  maxWarnings?: number;
  /** Export time: COCO `info.date_created`/`year` and zip entry mtimes (default: now). */
  now?: Date;
  coco?: CocoInfoOptions;
  /**
   * The campaign's label schema (class names in class-id order). With it, classes are numbered in this order
   * (COCO ids 1..n, YOLO 0..n-1, `class_id` 1..n in CSV and JSON) and every class is listed, used or not; an
   * object whose label is not among them is skipped with a warning. Without it, the labels found in the objects
   * are sorted by code point.
   */
  classes?: readonly string[];
}

export interface WriteExportOptions extends ExportOptions {
  /** End `out` when the export is complete (default true). */
  end?: boolean;
}
