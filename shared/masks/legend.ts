// One label order for masks and exports: mask class values match COCO category ids and YOLO classes (the campaign's
// label schema when it has one, else the labels found sorted by code point; see shared/domain/labelSchemas.ts).
import { compareCodePoints } from "../export/formats/common.js";
import type { GtMode } from "./modes.js";

/** One pixel value of a mask and what it stands for. */
export interface LegendValue {
  value: number;
  /** The object's `label_translated` (instance and semantic masks), or the mode's constant name (binary masks). */
  label: string;
  /** Instance masks: the object's index in the image's stored `objects` array (malformed entries included). */
  object_index?: number;
}

/** What the pixel values of one rendered mask mean. JSON-serialisable as is. */
export interface MaskLegend {
  mode: GtMode;
  bit_depth: 8 | 16;
  /** Pixels no shape covers. */
  background: 0;
  /** Every non-background value the mask may hold, ascending. A listed value may be absent (clipped or covered). */
  values: LegendValue[];
}

/** The largest value a 16-bit mask can hold: the cap on instances per image and on class values. */
export const MAX_MASK_VALUE = 65535;

/** Label of the single foreground value (255) of the binary modes. */
export const BINARY_LABELS = {
  filled_polygon: "object",
  polygon_edge: "object_edge",
  center_dot: "object_center",
} as const satisfies Partial<Record<GtMode, string>>;

export type BinaryMode = keyof typeof BINARY_LABELS;

export function binaryLegend(mode: BinaryMode): MaskLegend {
  return { mode, bit_depth: 8, background: 0, values: [{ value: 255, label: BINARY_LABELS[mode] }] };
}

/** Instances get 1..n in drawing order; `objectIndex` points back into the stored objects. */
export function instanceLegend(instances: ReadonlyArray<{ label: string; objectIndex: number }>): MaskLegend {
  return {
    mode: "filled_polygon_instances",
    bit_depth: instances.length > 255 ? 16 : 8,
    background: 0,
    values: instances.map((instance, i) => ({ value: i + 1, label: instance.label, object_index: instance.objectIndex })),
  };
}

/**
 * Every class of the index, whether or not the image shows it, so legends of one campaign agree. Ordered by value,
 * then label (an index may map several labels to one value, merging them).
 */
export function semanticLegend(classIndex: ReadonlyMap<string, number>): MaskLegend {
  const values = [...classIndex].map(([label, value]) => ({ value, label }));
  values.sort((a, b) => a.value - b.value || compareCodePoints(a.label, b.label));
  const max = values.length > 0 ? values[values.length - 1]!.value : 0;
  return { mode: "filled_semantic", bit_depth: max > 255 ? 16 : 8, background: 0, values };
}

/**
 * Class values for a set of labels: the unique labels sorted by Unicode code point get 1..n (0 is background).
 * Stable: the same label set always gives the same index, whatever the input order.
 */
export function buildClassIndex(labels: Iterable<string>): Map<string, number> {
  const unique = [...new Set(labels)].sort(compareCodePoints);
  if (unique.length > MAX_MASK_VALUE) {
    throw new RangeError(`${unique.length} classes do not fit a 16-bit mask (at most ${MAX_MASK_VALUE})`);
  }
  return new Map(unique.map((label, i) => [label, i + 1]));
}

/**
 * Class values for a class list already in order (a mask job's fixed `classLabels`: the campaign's label schema, or
 * the labels found sorted by buildClassIndex): entry n gets n + 1, so values equal COCO category ids.
 */
export function orderedClassIndex(classLabels: readonly string[]): Map<string, number> {
  return new Map(classLabels.map((label, i) => [label, i + 1]));
}

/**
 * Checks a caller's class index: integer values in 1..65535. Throws (a caller bug, not bad stored data).
 * Returns the largest value.
 */
export function checkClassIndex(classIndex: ReadonlyMap<string, number>): number {
  let max = 0;
  for (const [label, value] of classIndex) {
    if (!Number.isInteger(value) || value < 1 || value > MAX_MASK_VALUE) {
      throw new RangeError(`classIndex value for ${JSON.stringify(label)} must be an integer in 1..${MAX_MASK_VALUE} (got ${value})`);
    }
    if (value > max) max = value;
  }
  return max;
}
