import type { TableClient, TableEntityResult } from "@azure/data-tables";
import { isNotFound } from "./tableErrors.js";

/** One row by its keys, or undefined when there is none (a 404 is an answer, not an error). */
export async function readRow<T extends object = Record<string, unknown>>(
  table: TableClient,
  partitionKey: string,
  rowKey: string,
): Promise<TableEntityResult<T> | undefined> {
  try {
    return await table.getEntity<T>(partitionKey, rowKey);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** A string column as we wrote it; `fallback` when the row has none (or, from an older layout, a non-string). */
export function stringColumn(row: Record<string, unknown> | undefined, name: string, fallback = ""): string {
  const value = row?.[name];
  return typeof value === "string" ? value : typeof value === "number" || typeof value === "boolean" ? String(value) : fallback;
}
