import { odata, type TableClient, type TableEntityResult } from "@azure/data-tables";

/** A table row as the SDK returns it: its properties, untyped, with partitionKey, rowKey and etag. */
export type Row = TableEntityResult<Record<string, unknown>>;

/**
 * The OData filter for a row-key range inside one partition, built with the SDK's `odata` tag (which
 * quotes and escapes every value). `to` is exclusive unless `inclusive`.
 */
export function rowRange(partitionKey: string, from: string, to: string, inclusive = false): string {
  return inclusive
    ? odata`PartitionKey eq ${partitionKey} and RowKey ge ${from} and RowKey le ${to}`
    : odata`PartitionKey eq ${partitionKey} and RowKey ge ${from} and RowKey lt ${to}`;
}

/**
 * Every row key starting with `prefix` sorts in [prefix, the prefix with its last character incremented);
 * the empty prefix is the whole partition.
 */
export function rowPrefix(partitionKey: string, prefix: string, extra?: string): string {
  const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
  const range = prefix ? rowRange(partitionKey, prefix, end) : odata`PartitionKey eq ${partitionKey}`;
  return extra ? `${range} and (${extra})` : range;
}

/** Pages of rows matching `filter`, at most `pageSize` a page. */
export async function* queryPages(table: TableClient, filter: string, options: { select?: string[]; pageSize?: number } = {}): AsyncIterable<Row[]> {
  const iterator = table.listEntities<Record<string, unknown>>({ queryOptions: { filter, select: options.select } });
  for await (const page of iterator.byPage({ maxPageSize: options.pageSize ?? 1000 })) yield page;
}

/** All rows matching `filter` (for queries known to be small). */
export async function queryAll(table: TableClient, filter: string, select?: string[]): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const page of queryPages(table, filter, { select })) rows.push(...page);
  return rows;
}
