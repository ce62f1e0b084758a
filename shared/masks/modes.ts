import { GT_MODE_NAMES } from "../domain/exports.js";

/**
 * The mask modes: the `gt_mode` values an export request may name (the request schema in shared/domain/exports.ts
 * holds the list). A module of its own, so the legend and the renderer both take it without importing each other.
 */
export const GT_MODES = GT_MODE_NAMES;
/** One mask mode, e.g. `filled_polygon`. */
export type GtMode = (typeof GT_MODES)[number];
