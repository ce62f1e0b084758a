import { stringColumn } from "./rows.js";

/**
 * Table properties hold at most 64 KiB (32K UTF-16 characters) each, so large JSON values (polygons)
 * are split over numbered properties `<name>_0`, `<name>_1`, ... and joined on read.
 */
const PIECE = 30_000;
const MAX_PIECES = 14;
/** The longest JSON text one value may have (420,000 UTF-16 code units, 840 KB stored): one such value fits an entity (1 MiB). */
export const MAX_JSON_COLUMN_CHARS = PIECE * MAX_PIECES;

/** A value as the properties `<name>_n` (piece count) and `<name>_0`...; a RangeError past MAX_JSON_COLUMN_CHARS. */
export function toJsonColumns(name: string, value: unknown): Record<string, string | number> {
  const text = JSON.stringify(value ?? null);
  const pieces = Math.max(1, Math.ceil(text.length / PIECE));
  // Validators keep values under this limit (see LIMITS in domain/inputRules.ts); reaching it is a bug.
  if (pieces > MAX_PIECES) throw new RangeError(`${name} is too large to store (${text.length} characters)`);
  const columns: Record<string, string | number> = { [`${name}_n`]: pieces };
  for (let i = 0; i < pieces; i++) columns[`${name}_${i}`] = text.slice(i * PIECE, (i + 1) * PIECE);
  return columns;
}

/** The value toJsonColumns stored under `name`; `fallback` when there is none or its text does not parse. */
export function fromJsonColumns<T>(entity: Record<string, unknown>, name: string, fallback: T): T {
  const pieces = Number(entity[`${name}_n`] ?? 0);
  if (!pieces) return fallback;
  let text = "";
  for (let i = 0; i < pieces; i++) text += stringColumn(entity, `${name}_${i}`);
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}
