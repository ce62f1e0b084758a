/**
 * Ground-truth masks ("label images") rendered from an image's stored objects.
 *
 * Output: a single-channel (greyscale) PNG of exactly width x height, 8-bit unless a mode needs 16; pixel values are
 * exact (no anti-aliasing), so every pixel holds 0 (background) or a value listed in the legend. The PNG is colour
 * type 0 (greyscale), written by sharp with deflate level 1 and no row filter (fast; masks compress well anyway),
 * with a pHYs chunk and no timestamp: rendering the same input twice gives byte-identical PNGs.
 *
 * Pixel model: pixel (i, j) covers [i, i+1) x [j, j+1) and is judged by its centre (i + 0.5, j + 0.5).
 * - A filled polygon covers a pixel iff the centre is inside it by the even-odd rule (self-intersections and
 *   overlapping rings cancel in pairs) or lies exactly on its boundary.
 * - A filled box covers a pixel iff the centre is in the closed box [xmin, xmax] x [ymin, ymax]; a box and the same
 *   rectangle given as a polygon cover the same pixels. E.g. a box from x = 2 to x = 5 covers columns 2, 3 and 4.
 * - Shapes partly (or wholly) outside the image are clipped. Coordinates are not rounded before filling; decisions
 *   are exact for integer and half-integer coordinates.
 * - An object with a polygon is drawn as that polygon, otherwise as its bounding box.
 *
 * Modes:
 * - `filled_polygon`: every object filled with 255 on 0 (8-bit).
 * - `polygon_edge`: outlines only, 1 px wide, 255 on 0 (8-bit). Vertices are floored to pixels and joined by
 *   Bresenham lines (the nearest pixel on each step of the major axis; ties towards larger coordinates), closing
 *   the ring; a box is the rectangle between its floored corners. The outline of a shape may therefore reach one
 *   pixel beyond its fill on the right and bottom (a box from x = 2 to 5 is outlined on columns 2 and 5).
 * - `center_dot`: one pixel, 255 on 0 (8-bit), at the floor of the object's centre: the area-weighted centroid of
 *   a polygon (the mean of its vertices when its signed area is 0), the middle of a box. Dropped when outside.
 * - `filled_polygon_instances`: the valid objects, in stored order, get values 1..n; each is filled with its value
 *   and later objects cover earlier ones. 8-bit while n <= 255, else 16-bit; objects past 65535 are skipped with a
 *   warning. The legend maps each value to the object's `label_translated` and its index in `objects`.
 * - `filled_semantic`: each object filled with `classIndex.get(label_translated)`, later objects on top. 16-bit
 *   when the largest class value of the index exceeds 255. The legend lists every class of the index (present or
 *   not), so all masks of a campaign share one legend. An object whose label has no class is skipped with a warning.
 *
 * Stored objects may be malformed (see `normaliseObject`: non-finite numbers, polygons under 3 points or without
 * extent, boxes with xmin >= xmax or ymin >= ymax, ...). Such an object is skipped and reported in `warnings`
 * ("object <index>: <reason>"); rendering never throws for bad objects. It throws only for caller errors: bad
 * width/height, an unknown mode, or a missing/invalid `classIndex` in `filled_semantic` mode.
 */
import sharp from "sharp";
import type { StoredObject } from "../domain/labels.js";
import { normaliseObject } from "../export/objects.js";
import { binaryLegend, checkClassIndex, instanceLegend, MAX_MASK_VALUE, semanticLegend, type MaskLegend } from "./legend.js";
import { GT_MODES, type GtMode } from "./modes.js";
import { fillPolygon, fillRect, polygonCentroid, setPixel, strokePolygon, strokeRect, type MaskData, type Raster } from "./rasterize.js";

export { buildClassIndex } from "./legend.js";
export type { LegendValue, MaskLegend } from "./legend.js";
export { GT_MODES, type GtMode } from "./modes.js";

/** One image's mask to render: its size, its stored objects and the mode. */
export interface RenderMaskInput {
  width: number;
  height: number;
  /** The image's objects as stored (unvalidated). */
  objects: unknown[];
  mode: GtMode;
  /** label_translated -> class value 1..65535 (see `buildClassIndex`); required for `filled_semantic`. */
  classIndex?: ReadonlyMap<string, number>;
}

export interface RenderedMask {
  png: Buffer;
  bitDepth: 8 | 16;
  legend: MaskLegend;
  warnings: string[];
}

/** Largest accepted side, in pixels (keeps all rasteriser arithmetic exact). */
export const MAX_MASK_SIDE = 2 ** 24;

const FOREGROUND = 255;

/**
 * Renders one image's mask as a PNG with its legend (see the module comment for the pixel rule and the modes).
 * Malformed objects are skipped with a warning; only caller errors throw.
 */
export async function renderMask(input: RenderMaskInput): Promise<RenderedMask> {
  const { width, height, mode } = input;
  for (const [name, side] of [
    ["width", width],
    ["height", height],
  ] as const) {
    if (!Number.isInteger(side) || side < 1 || side > MAX_MASK_SIDE) {
      throw new RangeError(`mask ${name} must be an integer in 1..${MAX_MASK_SIDE} (got ${side})`);
    }
  }
  if (!(GT_MODES as readonly string[]).includes(mode)) throw new RangeError(`unknown mask mode ${JSON.stringify(mode)}`);

  const warnings: string[] = [];
  const objects = validObjects(input.objects, warnings);
  const { data, legend } = rasterise(width, height, mode, objects, input.classIndex, warnings);
  try {
    return { png: await encodePng(data, width, height), bitDepth: legend.bit_depth, legend, warnings };
  } finally {
    releaseBuffer(data); // sharp has finished reading it once the encode settles
  }
}

/** Rasterises without encoding: the raw mask (row-major) and its legend. */
export function rasterise(
  width: number,
  height: number,
  mode: GtMode,
  objects: ReadonlyArray<IndexedObject>,
  classIndex: ReadonlyMap<string, number> | undefined,
  warnings: string[],
): { data: MaskData; legend: MaskLegend } {
  switch (mode) {
    case "filled_polygon":
    case "polygon_edge":
    case "center_dot": {
      const raster = newRaster(width, height, 8);
      const draw = mode === "filled_polygon" ? fill : mode === "polygon_edge" ? stroke : dot;
      for (const { object } of objects) draw(raster, object, FOREGROUND);
      return { data: raster.data, legend: binaryLegend(mode) };
    }
    case "filled_polygon_instances": {
      let drawn = objects;
      if (objects.length > MAX_MASK_VALUE) {
        for (const { index } of objects.slice(MAX_MASK_VALUE)) {
          warnings.push(`object ${index}: more than ${MAX_MASK_VALUE} instances do not fit a 16-bit mask; skipped`);
        }
        drawn = objects.slice(0, MAX_MASK_VALUE);
      }
      const legend = instanceLegend(drawn.map(({ object, index }) => ({ label: object.label_translated, objectIndex: index })));
      const raster = newRaster(width, height, legend.bit_depth);
      drawn.forEach(({ object }, i) => fill(raster, object, i + 1));
      return { data: raster.data, legend };
    }
    case "filled_semantic": {
      if (!classIndex) throw new TypeError("filled_semantic masks need a classIndex (see buildClassIndex)");
      checkClassIndex(classIndex);
      const legend = semanticLegend(classIndex);
      const raster = newRaster(width, height, legend.bit_depth);
      for (const { object, index } of objects) {
        const value = classIndex.get(object.label_translated);
        if (value === undefined) {
          warnings.push(`object ${index}: label ${JSON.stringify(object.label_translated)} has no class value; skipped`);
          continue;
        }
        fill(raster, object, value);
      }
      return { data: raster.data, legend };
    }
  }
}

export interface IndexedObject {
  object: StoredObject;
  /** Position in the stored `objects` array. */
  index: number;
}

/** The well-formed objects with their stored positions; a warning for each one skipped. */
export function validObjects(objects: readonly unknown[], warnings: string[]): IndexedObject[] {
  const valid: IndexedObject[] = [];
  objects.forEach((raw, index) => {
    const result = normaliseObject(raw);
    if (result.ok) valid.push({ object: result.object, index });
    else warnings.push(`object ${index}: ${result.reason}; skipped`);
  });
  return valid;
}

function newRaster(width: number, height: number, bitDepth: 8 | 16): Raster {
  return { width, height, data: takeBuffer(width * height, bitDepth) };
}

// A few recycled raster buffers: a fresh multi-megabyte array costs page faults on first touch, several times the
// price of clearing a warm one. Buffers over the size cap are never kept, so idle memory stays bounded.
const POOL_MAX_BYTES = 32 * 1024 * 1024;
const POOL_MAX_BUFFERS = 4;
const pool: MaskData[] = [];

function takeBuffer(size: number, bitDepth: 8 | 16): MaskData {
  const i = pool.findIndex((b) => b.length === size && b instanceof Uint16Array === (bitDepth === 16));
  if (i >= 0) return pool.splice(i, 1)[0]!.fill(0);
  return bitDepth === 16 ? new Uint16Array(size) : new Uint8Array(size);
}

function releaseBuffer(data: MaskData): void {
  if (data.byteLength > POOL_MAX_BYTES) return;
  if (pool.length >= POOL_MAX_BUFFERS) pool.shift();
  pool.push(data);
}

function fill(raster: Raster, object: StoredObject, value: number): void {
  if (object.polygon) fillPolygon(raster, object.polygon, value);
  else if (object.bounding_box) fillRect(raster, object.bounding_box, value);
}

function stroke(raster: Raster, object: StoredObject, value: number): void {
  if (object.polygon) strokePolygon(raster, object.polygon, value);
  else if (object.bounding_box) strokeRect(raster, object.bounding_box, value);
}

function dot(raster: Raster, object: StoredObject, value: number): void {
  if (object.polygon) {
    const [x, y] = polygonCentroid(object.polygon);
    setPixel(raster, x, y, value);
  } else if (object.bounding_box) {
    const box = object.bounding_box;
    setPixel(raster, (box.xmin + box.xmax) / 2, (box.ymin + box.ymax) / 2, value);
  }
}

/**
 * Greyscale PNG of a raw mask. Raw single-channel input needs an explicit greyscale colourspace, or the PNG comes
 * out RGB. sharp writes no timestamps, so equal input gives equal bytes.
 */
export async function encodePng(data: MaskData, width: number, height: number): Promise<Buffer> {
  const sixteen = data instanceof Uint16Array;
  return sharp(data, { raw: { width, height, channels: 1 } })
    .toColourspace(sixteen ? "grey16" : "b-w")
    .png({ compressionLevel: 1 })
    .toBuffer();
}
