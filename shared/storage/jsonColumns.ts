/**
 * Table properties hold at most 64 KiB (32K UTF-16 characters) each, so large JSON values (polygons)
 * are split over numbered properties `<name>_0`, `<name>_1`, ... and joined on read.
 */
const PIECE = 30_000;
const MAX_PIECES = 30; // keeps an entity well under the 1 MiB limit

export function toJsonColumns(name: string, value: unknown): Record<string, string | number> {
  const text = JSON.stringify(value ?? null);
  const pieces = Math.max(1, Math.ceil(text.length / PIECE));
  if (pieces > MAX_PIECES) throw new RangeError(`${name} is too large to store (${text.length} characters)`);
  const columns: Record<string, string | number> = { [`${name}_n`]: pieces };
  for (let i = 0; i < pieces; i++) columns[`${name}_${i}`] = text.slice(i * PIECE, (i + 1) * PIECE);
  return columns;
}

export function fromJsonColumns<T>(entity: Record<string, unknown>, name: string, fallback: T): T {
  const pieces = Number(entity[`${name}_n`] ?? 0);
  if (!pieces) return fallback;
  let text = "";
  for (let i = 0; i < pieces; i++) text += String(entity[`${name}_${i}`] ?? "");
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

