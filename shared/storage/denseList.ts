import type { TableClient, TableEntityResult, TransactionAction } from "@azure/data-tables";

/** A table row as read back (with etag and timestamp). */
export type Row = TableEntityResult<Record<string, unknown>>;
import { ConcurrencyError } from "../errors.js";
import { readRow } from "./rows.js";
import { isConflict, pad } from "./tableErrors.js";

/**
 * An append-only list in one table partition whose items get dense positions 0, 1, 2, ... exactly once
 * per key. Rows (prefix `p`):
 *   `p!count`          { count, ...extra }   the number of items; its ETag serialises appends
 *   `p!pos!<pos>`      { itemKey, ...item }  one per item, in order: pages are a row-key range read
 *   `p!key!<key>`      { pos, ...state }     one per key: de-duplication and lookup by key
 * An append is one entity-group transaction (count + positions + keys), so a crash or a race leaves no gap
 * and no duplicate: a retried or concurrent append of the same key finds the key row and returns its position.
 * This is what makes integer ids gap-free, `total` exact and any page one range query.
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

  async getCountRow(): Promise<Row | undefined> {
    return this.getRow(this.countKey());
  }

  async getByKey(key: string): Promise<Row | undefined> {
    return this.getRow(this.keyKey(key));
  }

  async getAt(pos: number): Promise<Row | undefined> {
    return this.getRow(this.posKey(pos));
  }

  /** Items at positions [offset, offset + limit), in order. */
  async range(offset: number, limit: number): Promise<Array<Row>> {
    if (limit <= 0) return [];
    const from = this.posKey(offset);
    const to = this.posKey(offset + limit);
    const rows: Array<Row> = [];
    const iterator = this.table.listEntities<Record<string, unknown>>({
      queryOptions: { filter: `PartitionKey eq '${this.partitionKey}' and RowKey ge '${from}' and RowKey lt '${to}'` },
    });
    for await (const page of iterator.byPage({ maxPageSize: Math.min(limit, 1000) })) {
      rows.push(...page);
    }
    return rows;
  }

  /** All key rows, page by page (for filtered listings and exports). */
  async *keyRows(filter?: string, select?: string[]): AsyncIterable<Array<Row>> {
    const lo = `${this.prefix}!key!`;
    const hi = `${this.prefix}!key"`; // '"' sorts right after '!'
    const base = `PartitionKey eq '${this.partitionKey}' and RowKey ge '${lo}' and RowKey lt '${hi}'`;
    const iterator = this.table.listEntities<Record<string, unknown>>({
      queryOptions: { filter: filter ? `${base} and (${filter})` : base, select },
    });
    for await (const page of iterator.byPage({ maxPageSize: 1000 })) yield page;
  }

  /**
   * Appends items whose keys are not in the list yet; returns each item's position and whether this call
   * added it. Safe to repeat and to race: every key ends up exactly once.
   */
  async append(
    items: ReadonlyArray<{ key: string; item?: Record<string, unknown>; state?: Record<string, unknown> }>,
    countExtra: Record<string, unknown> = {},
    /** Skip the key look-ups on the first try (the caller just checked): a key that exists makes the transaction fail, and the retry looks. */
    assumeNew = false,
  ): Promise<Array<{ key: string; pos: number; created: boolean }>> {
    const results = new Map<string, { pos: number; created: boolean }>();
    const unique = [...new Map(items.map((i) => [i.key, i])).values()];
    // 1 count row + 2 rows per item must fit the 100-operation transaction limit.
    const chunkSize = 49;
    for (let start = 0; start < unique.length; start += chunkSize) {
      let pending = unique.slice(start, start + chunkSize);
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt >= 50) throw new ConcurrencyError(`list ${this.partitionKey}/${this.prefix}`);
        const existing = assumeNew && attempt === 0 ? [] : await Promise.all(pending.map((i) => this.getByKey(i.key)));
        pending = pending.filter((item, index) => {
          const row = existing[index];
          if (row) results.set(item.key, { pos: Number(row.pos), created: false });
          return !row;
        });
        if (pending.length === 0) break;
        const countRow = await this.getCountRow();
        const count = countRow ? Number(countRow.count ?? 0) : 0;
        const actions: TransactionAction[] = [];
        const countEntity = { partitionKey: this.partitionKey, rowKey: this.countKey(), count: count + pending.length, ...countExtra };
        actions.push(countRow ? ["update", countEntity, "Merge", { etag: String(countRow.etag) }] : ["create", countEntity]);
        pending.forEach((item, index) => {
          const pos = count + index;
          actions.push(["create", { partitionKey: this.partitionKey, rowKey: this.posKey(pos), itemKey: item.key, ...item.item }]);
          actions.push(["create", { partitionKey: this.partitionKey, rowKey: this.keyKey(item.key), pos, ...item.state }]);
        });
        try {
          await this.table.submitTransaction(actions);
          pending.forEach((item, index) => results.set(item.key, { pos: count + index, created: true }));
          pending = [];
        } catch (error) {
          if (!isTransactionConflict(error)) throw error;
          await jitter(attempt);
        }
      }
    }
    return items.map((i) => ({ key: i.key, ...results.get(i.key)! }));
  }

  private getRow(rowKey: string): Promise<Row | undefined> {
    return readRow(this.table, this.partitionKey, rowKey);
  }
}

/** A transaction that lost a race fails with 409/412 (or 400 with an entity-exists detail on some emulators). */
export function isTransactionConflict(error: unknown): boolean {
  if (isConflict(error)) return true;
  const message = error instanceof Error ? error.message : "";
  return /EntityAlreadyExists|UpdateConditionNotSatisfied|ConditionNotMet/i.test(message);
}

export function jitter(attempt: number): Promise<void> {
  const ms = Math.min(200, 5 * 2 ** Math.min(attempt, 5)) * Math.random();
  return new Promise((resolve) => setTimeout(resolve, ms));
}
