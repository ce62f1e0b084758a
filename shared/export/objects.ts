import type { BoundingBox, Polygon, StoredObject } from "../domain/labels.js";

/**
 * Validation and geometry for stored objects as exporters see them.
 *
 * Storage may hold anything (old schema versions, hand edits), so every exporter runs each raw object through
 * `normaliseObject` and skips (with a warning) what it rejects instead of aborting the export.
 */

export type NormaliseResult = { ok: true; object: StoredObject } | { ok: false; reason: string };

/**
 * Checks one stored object and returns a fresh, well-formed copy.
 *
 * Rules: a non-empty string `label_original`; `label_translated` a non-empty string (missing or null falls back to
 * `label_original`, as the translation step does when no translation applies); `confidence` a finite number or
 * null/missing; at least one of `bounding_box` / `polygon`. A box has finite `xmin < xmax` and `ymin < ymax`. A
 * polygon has at least 3 finite `[x, y]` points and non-zero width and height (its bounds must be a valid box).
 * Coordinates are not checked against the image size (the caller does that where a format needs it).
 */
export function normaliseObject(raw: unknown): NormaliseResult {
  if (!isRecord(raw)) return fail(`not an object (${describe(raw)})`);

  const labelOriginal = raw.label_original;
  if (typeof labelOriginal !== "string" || labelOriginal.length === 0) {
    return fail(`label_original must be a non-empty string (${describe(labelOriginal)})`);
  }
  const translatedRaw = raw.label_translated;
  let labelTranslated = labelOriginal;
  if (translatedRaw !== undefined && translatedRaw !== null) {
    if (typeof translatedRaw !== "string" || translatedRaw.length === 0) {
      return fail(`label_translated must be a non-empty string (${describe(translatedRaw)})`);
    }
    labelTranslated = translatedRaw;
  }

  const confidenceRaw = raw.confidence;
  let confidence: number | null = null;
  if (confidenceRaw !== undefined && confidenceRaw !== null) {
    if (!isFiniteNumber(confidenceRaw)) return fail(`confidence must be a finite number or null (${describe(confidenceRaw)})`);
    confidence = confidenceRaw;
  }

  let box: BoundingBox | null = null;
  if (raw.bounding_box !== undefined && raw.bounding_box !== null) {
    const checked = checkBox(raw.bounding_box);
    if (typeof checked === "string") return fail(`bounding_box ${checked}`);
    box = checked;
  }

  let polygon: Polygon | null = null;
  if (raw.polygon !== undefined && raw.polygon !== null) {
    const checked = checkPolygon(raw.polygon);
    if (typeof checked === "string") return fail(`polygon ${checked}`);
    polygon = checked;
  }

  if (!box && !polygon) return fail("has neither bounding_box nor polygon");
  return {
    ok: true,
    object: { label_original: labelOriginal, label_translated: labelTranslated, confidence, bounding_box: box, polygon },
  };
}

function checkBox(raw: unknown): BoundingBox | string {
  if (!isRecord(raw)) return `is not an object (${describe(raw)})`;
  const { xmin, xmax, ymin, ymax } = raw;
  for (const [name, value] of [
    ["xmin", xmin],
    ["xmax", xmax],
    ["ymin", ymin],
    ["ymax", ymax],
  ] as const) {
    if (!isFiniteNumber(value)) return `${name} must be a finite number (${describe(value)})`;
  }
  const box = { xmin: xmin as number, xmax: xmax as number, ymin: ymin as number, ymax: ymax as number };
  if (!(box.xmin < box.xmax)) return `xmin (${box.xmin}) must be < xmax (${box.xmax})`;
  if (!(box.ymin < box.ymax)) return `ymin (${box.ymin}) must be < ymax (${box.ymax})`;
  return box;
}

function checkPolygon(raw: unknown): Polygon | string {
  if (!Array.isArray(raw)) return `is not an array (${describe(raw)})`;
  if (raw.length < 3) return `needs at least 3 points (has ${raw.length})`;
  const points: Polygon = [];
  for (let i = 0; i < raw.length; i++) {
    const point: unknown = raw[i];
    if (!Array.isArray(point) || point.length !== 2 || !isFiniteNumber(point[0]) || !isFiniteNumber(point[1])) {
      return `point ${i} must be [x, y] with finite numbers (${describe(point)})`;
    }
    points.push([point[0], point[1]]);
  }
  const bounds = polygonBounds(points);
  // A polygon without width or height has no box: COCO/YOLO/VOC could not represent it.
  if (!(bounds.xmin < bounds.xmax) || !(bounds.ymin < bounds.ymax)) return "is degenerate (zero width or height)";
  return points;
}

/** The tightest box around a polygon. */
export function polygonBounds(polygon: Polygon): BoundingBox {
  let xmin = Infinity;
  let xmax = -Infinity;
  let ymin = Infinity;
  let ymax = -Infinity;
  for (const [x, y] of polygon) {
    if (x < xmin) xmin = x;
    if (x > xmax) xmax = x;
    if (y < ymin) ymin = y;
    if (y > ymax) ymax = y;
  }
  return { xmin, xmax, ymin, ymax };
}

/** Polygon area by the shoelace formula, absolute (independent of winding order). */
export function polygonArea(polygon: Polygon): number {
  let twice = 0;
  for (let i = 0; i < polygon.length; i++) {
    const [x1, y1] = polygon[i]!;
    const [x2, y2] = polygon[(i + 1) % polygon.length]!;
    twice += x1 * y2 - x2 * y1;
  }
  return Math.abs(twice) / 2;
}

export function boxArea(box: BoundingBox): number {
  return (box.xmax - box.xmin) * (box.ymax - box.ymin);
}

/** A box as a 4-point polygon, clockwise in image coordinates from the top-left corner. */
export function boxToPolygon(box: BoundingBox): Polygon {
  return [
    [box.xmin, box.ymin],
    [box.xmax, box.ymin],
    [box.xmax, box.ymax],
    [box.xmin, box.ymax],
  ];
}

/** The object's box: its own `bounding_box` when present, else its polygon's bounds. */
export function objectBox(object: StoredObject): BoundingBox {
  if (object.bounding_box) return object.bounding_box;
  if (object.polygon) return polygonBounds(object.polygon);
  throw new Error("object has neither bounding_box nor polygon");
}

/** The object's area: the polygon's shoelace area when it has one, else the box's. */
export function objectArea(object: StoredObject): number {
  return object.polygon ? polygonArea(object.polygon) : boxArea(objectBox(object));
}

/** Intersects a box with `[0, width] x [0, height]`; null when nothing is left. */
export function clipBox(box: BoundingBox, width: number, height: number): BoundingBox | null {
  const clipped = {
    xmin: Math.max(0, box.xmin),
    xmax: Math.min(width, box.xmax),
    ymin: Math.max(0, box.ymin),
    ymax: Math.min(height, box.ymax),
  };
  return clipped.xmin < clipped.xmax && clipped.ymin < clipped.ymax ? clipped : null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

function fail(reason: string): NormaliseResult {
  return { ok: false, reason };
}

/** A short description of a bad value for warnings (never the whole value: it may be huge). */
function describe(value: unknown): string {
  if (value === undefined) return "missing";
  if (value === null) return "null";
  if (Array.isArray(value)) return `array of ${value.length}`;
  if (typeof value === "object") return "object";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  return typeof value;
}
