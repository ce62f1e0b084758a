/** A box in pixel coordinates; `xmin < xmax`, `ymin < ymax`, inside the image. */
export interface BoundingBox {
  xmin: number;
  xmax: number;
  ymin: number;
  ymax: number;
}

/** A polygon as `[x, y]` pixel points, at least 3, inside the image. */
export type Polygon = Array<[number, number]>;

/** An object as stored for a campaign image (after validation and label translation). */
export interface StoredObject {
  /** The label the partner sent. */
  label_original: string;
  /** The label after the campaign's `label_translations` (equal to label_original when none applies). */
  label_translated: string;
  confidence: number | null;
  bounding_box: BoundingBox | null;
  polygon: Polygon | null;
}

/** Review state of one campaign image. */
export const LABEL_STATUSES = ["unlabeled", "user_complete", "admin_complete", "rejected"] as const;
/** Review state of one campaign image: unlabeled, submitted by the partner, approved by an admin, or rejected back to the partner. */
export type LabelStatus = (typeof LABEL_STATUSES)[number];

/** Whether an image counts towards a campaign's `done`: the partner's labels stand (submitted, or approved). */
export const countsAsDone = (status: LabelStatus) => status === "user_complete" || status === "admin_complete";

/**
 * One campaign image as exporters and renderers see it. `objects` is what storage holds: exporters must
 * tolerate a malformed entry (report it as a warning, never abort).
 */
export interface ExportImage {
  imageId: number;
  /** Path of the image inside the image container, e.g. `uploads/set-1/car.png`. */
  blobPath: string;
  width: number;
  height: number;
  filetype: string;
  labelStatus: LabelStatus;
  testData: boolean;
  /** ISO timestamps of the first and the latest submission, or null when never labeled. */
  labeledAt: string | null;
  lastActivityAt: string | null;
  objects: unknown[];
}
