import type { TableClient, TransactionAction } from "@azure/data-tables";
import { queryAll, rowRange, type Row } from "./queries.js";
import { retryOnConflict } from "./retry.js";
import { readRow } from "./rows.js";
import { pad } from "./tableErrors.js";

export type { Row } from "./queries.js";

/**
 * An append-only list in one table partition whose items get dense positions 0, 1, 2, ... exactly once
 * per key; for short lists only (image sets and campaigns themselves): a list that grows with the data
 * is a KeyedSequence or a BucketedSet. Rows (prefix `p`):
 *   `p!count`          { count }            the number of items; its ETag serialises appends
 *   `p!pos!<pos>`      { itemKey, ...item } one per item, in order: pages are a row-key range read
 *   `p!key!<key>`      { pos }              one per key: de-duplication and lookup by key
 * An append is one entity-group transaction (count + position + key), so a crash or a race leaves no gap
 * and no duplicate: a retried or concurrent append of the same key finds the key row and returns its position.
 */
export class DenseList {
  constructor(
    readonly table: TableClient,
    readonly partitionKey: string,
    readonly prefix: string,
  ) {}

  countKey(): string {
    return `${this.prefix}!count`;
  }
  posKey(pos: number): string {
    return `${this.prefix}!pos!${pad(pos)}`;
  }
  keyKey(key: string): string {
    return `${this.prefix}!key!${key}`;
  }

  async count(): Promise<number> {
    const row = await this.getRow(this.countKey());
    return row ? Number(row.count ?? 0) : 0;
  }

  async getByKey(key: string): Promise<Row | undefined> {
    return this.getRow(this.keyKey(key));
  }

  async getAt(pos: number): Promise<Row | undefined> {
    return this.getRow(this.posKey(pos));
  }

  /** Items at positions [offset, offset + limit), in order. */
  async range(offset: number, limit: number): Promise<Row[]> {
    if (limit <= 0) return [];
    return queryAll(this.table, rowRange(this.partitionKey, this.posKey(offset), this.posKey(offset + limit)));
  }

  /**
   * Appends one item whose key is not in the list yet; returns its position and whether this call added
   * it. Safe to repeat and to race: the key ends up exactly once.
   */
  async append(key: string, item: Record<string, unknown>): Promise<{ pos: number; created: boolean }> {
    return retryOnConflict(`list ${this.partitionKey}/${this.prefix}`, async () => {
      const [existing, countRow] = await Promise.all([this.getByKey(key), this.getRow(this.countKey())]);
      if (existing) return { pos: Number(existing.pos), created: false };
      const pos = countRow ? Number(countRow.count ?? 0) : 0;
      const countEntity = { partitionKey: this.partitionKey, rowKey: this.countKey(), count: pos + 1 };
      const actions: TransactionAction[] = [
        countRow ? ["update", countEntity, "Merge", { etag: String(countRow.etag) }] : ["create", countEntity],
        ["create", { ...item, partitionKey: this.partitionKey, rowKey: this.posKey(pos), itemKey: key }],
        ["create", { partitionKey: this.partitionKey, rowKey: this.keyKey(key), pos }],
      ];
      await this.table.submitTransaction(actions);
      return { pos, created: true };
    });
  }

  private getRow(rowKey: string): Promise<Row | undefined> {
    return readRow(this.table, this.partitionKey, rowKey);
  }
}
