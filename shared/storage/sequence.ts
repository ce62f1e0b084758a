import { randomUUID } from "node:crypto";
import { odata, type TableClient, type TransactionAction } from "@azure/data-tables";
import { bucketKey, bucketOf, groupByBucket } from "./buckets.js";
import { fromJsonColumns, toJsonColumns } from "./jsonColumns.js";
import { queryAll, queryPages, rowRange, type Row } from "./queries.js";
import { RETRY, retryOnConflict } from "./retry.js";
import { readRow } from "./rows.js";
import { pad } from "./tableErrors.js";
import { planTransactions } from "./transactions.js";
import { mapLimit } from "../util/concurrency.js";

/** A pending block older than this belongs to a writer that died, and the next writer finishes it. */
export const STALE_MS = 60_000;
/** Items per pending block (the block travels in the head row until its rows are written). */
const BLOCK_SIZE = 200;

/** An item to append: its key (a row-key-safe string), the group its key row lives in, and its properties. */
export interface SequenceItem {
  key: string;
  /** Names the key row's partition (`<base>!k<group>`): keys appended together should share few groups. */
  group: string;
  item: Record<string, unknown>;
}

interface PendingBlock {
  id: string;
  from: number;
  at: number;
  items: SequenceItem[];
}

export interface Appended {
  key: string;
  pos: number;
  created: boolean;
}

/**
 * An append-only sequence whose items get dense positions 0, 1, 2, ... exactly once per key, spread over
 * bounded partitions so no operation's cost grows with its length:
 *   `<base>!head`      one row: `count` (positions handed out) and the blocks still being written
 *   `<base>!<bucket>`  `pos!<pos>` rows, 1,000 positions per partition: pages and look-ups by position
 *   `<base>!k<group>`  `key!<key>` rows in groups the caller chooses (keys appended together share few
 *                      groups, so they are read and written a query or transaction per group)
 * Appending: read the head; finish any pending block that holds one of our keys; read our keys' rows
 * (those with a position keep it); then hand the rest positions by one update of the head under the ETag
 * we read, recording the block, items included, as pending; then write its position and key rows and
 * clear it from the head. The ETag makes it exact: a block that took one of our keys after our read
 * changed the head, so our update fails and we look again; one that cleared before our read wrote its key
 * rows first. A writer that dies leaves its block pending, and anyone finishes it (writing the same rows),
 * so positions never get a gap and the count is exact. Readers see positions up to the first pending block.
 */
export class KeyedSequence {
  constructor(
    readonly table: TableClient,
    readonly base: string,
    /** When a claim or pending block counts as a dead writer's (tests shorten it). */
    private readonly staleMs = STALE_MS,
  ) {}

  private get headPartition(): string {
    return `${this.base}!head`;
  }

  bucketPartition(pos: number): string {
    return `${this.base}!${bucketKey(bucketOf(pos))}`;
  }

  posKey(pos: number): string {
    return `pos!${pad(pos)}`;
  }

  private keyPartition(group: string): string {
    return `${this.base}!k${group}`;
  }

  private keyRowKey(key: string): string {
    return `key!${key}`;
  }

  /** Positions readers may see: up to the first block still being written. */
  async count(): Promise<number> {
    const { count, pending } = decodeHead(await this.head());
    return pending.length ? Math.min(...pending.map((b) => b.from)) : count;
  }

  async get(pos: number): Promise<Row | undefined> {
    return readRow(this.table, this.bucketPartition(pos), this.posKey(pos));
  }

  /** Items at positions [offset, offset + limit) that exist, in order: one range read per bucket spanned. */
  async range(offset: number, limit: number): Promise<Row[]> {
    if (limit <= 0) return [];
    const rows: Row[] = [];
    const end = offset + limit;
    for (let start = offset; start < end; start = (bucketOf(start) + 1) * 1000) {
      const stop = Math.min(end, (bucketOf(start) + 1) * 1000);
      for await (const page of queryPages(this.table, rowRange(this.bucketPartition(start), this.posKey(start), this.posKey(stop)))) rows.push(...page);
    }
    return rows;
  }

  /** Items by position: one range read per bucket touched (spanning the positions asked for). */
  async getMany(positions: Iterable<number>): Promise<Map<number, Row>> {
    const found = new Map<number, Row>();
    await mapLimit([...groupByBucket(positions)], 16, async ([, group]) => {
      const first = group[0]!;
      const last = group[group.length - 1]!;
      const wanted = new Set(group);
      for (const row of await this.range(first, last - first + 1)) {
        const pos = posOf(row);
        if (wanted.has(pos)) found.set(pos, row);
      }
    });
    return found;
  }

  /** The position of a key, if it has one. */
  async positionOf(key: string, group: string): Promise<number | undefined> {
    const row = await readRow(this.table, this.keyPartition(group), this.keyRowKey(key));
    return typeof row?.pos === "number" ? row.pos : undefined;
  }

  /**
   * Appends items whose keys have no position yet; returns each item's position and whether this call
   * added it. Safe to repeat, to race, and to resume after a crash: every key ends up at exactly one position.
   */
  async append(items: readonly SequenceItem[]): Promise<Appended[]> {
    const unique = [...new Map(items.map((i) => [i.key, i])).values()];
    const results = new Map<string, { pos: number; created: boolean }>();
    for (let start = 0; start < unique.length; start += BLOCK_SIZE) {
      const todo = unique.slice(start, start + BLOCK_SIZE);
      const block = await retryOnConflict(`sequence ${this.base}`, async () => {
        const row = await this.head();
        const { count, pending } = decodeHead(row);
        // Blocks holding our keys (being written now, or left by a writer that died), and stale ones: finish them.
        const keys = new Set(todo.map((i) => i.key));
        const unfinished = pending.filter((b) => Date.now() - b.at > this.staleMs || b.items.some((i) => keys.has(i.key)));
        if (unfinished.length) {
          for (const other of unfinished) await this.finish(other);
          return RETRY;
        }
        const positions = await this.positionsOf(todo);
        for (const [key, pos] of positions) results.set(key, { pos, created: false });
        const fresh = todo.filter((item) => !positions.has(item.key));
        if (fresh.length === 0) return undefined;
        const block: PendingBlock = { id: randomUUID(), from: count, at: Date.now(), items: fresh };
        const entity = encodeHead(this.headPartition, count + fresh.length, [...pending, block]);
        if (row) await this.table.updateEntity(entity, "Replace", { etag: String(row.etag) });
        else await this.table.createEntity(entity);
        return block;
      });
      if (!block) continue;
      await this.finish(block);
      block.items.forEach((item, i) => results.set(item.key, { pos: block.from + i, created: true }));
    }
    return items.map((i) => ({ key: i.key, ...results.get(i.key)! }));
  }

  /** The positions some keys have: per group, queries of up to 15 keys (Azure's limit of comparisons in a filter). */
  private async positionsOf(items: readonly SequenceItem[]): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    const queries: Array<{ partition: string; keys: string[] }> = [];
    const byGroup = new Map<string, string[]>();
    for (const item of items) byGroup.set(item.group, [...(byGroup.get(item.group) ?? []), item.key]);
    for (const [group, keys] of byGroup) {
      for (let i = 0; i < keys.length; i += 15) queries.push({ partition: this.keyPartition(group), keys: keys.slice(i, i + 15) });
    }
    await mapLimit(queries, 8, async ({ partition, keys }) => {
      const filter = `${odata`PartitionKey eq ${partition}`} and (${keys.map((key) => odata`RowKey eq ${this.keyRowKey(key)}`).join(" or ")})`;
      for (const row of await queryAll(this.table, filter, ["RowKey", "pos"])) {
        if (typeof row.pos === "number") found.set(String(row.rowKey).slice("key!".length), row.pos);
      }
    });
    return found;
  }

  /** Writes a block's rows and clears it from the head; anyone may do it, as often as it takes. */
  private async finish(block: PendingBlock): Promise<void> {
    await this.writeBlock(block);
    await this.clearBlock(block.id);
  }

  private head(): Promise<Row | undefined> {
    return readRow(this.table, this.headPartition, "head");
  }

  /** Writes a block's position rows, then its key rows (upserts in transactions: redoing it writes the same). */
  private async writeBlock(block: PendingBlock): Promise<void> {
    const positions = block.items.map(({ key, group, item }, i): TransactionAction => [
      "upsert",
      { ...item, partitionKey: this.bucketPartition(block.from + i), rowKey: this.posKey(block.from + i), itemKey: key, itemGroup: group },
      "Replace",
    ]);
    await mapLimit(planTransactions(positions), 4, (transaction) => this.table.submitTransaction(transaction));
    const keys = block.items.map(({ key, group }, i): TransactionAction => [
      "upsert",
      { partitionKey: this.keyPartition(group), rowKey: this.keyRowKey(key), pos: block.from + i },
      "Replace",
    ]);
    await mapLimit(planTransactions(keys), 8, (transaction) => this.table.submitTransaction(transaction));
  }

  private async clearBlock(blockId: string): Promise<void> {
    await retryOnConflict(`sequence ${this.base}`, async () => {
      const row = await this.head();
      const { count, pending } = decodeHead(row);
      if (!row || !pending.some((b) => b.id === blockId)) return;
      await this.table.updateEntity(encodeHead(this.headPartition, count, pending.filter((b) => b.id !== blockId)), "Replace", { etag: String(row.etag) });
    });
  }
}

function decodeHead(row: Row | undefined): { count: number; pending: PendingBlock[] } {
  return { count: Number(row?.count ?? 0), pending: row ? fromJsonColumns<PendingBlock[]>(row, "pending", []) : [] };
}

function encodeHead(partitionKey: string, count: number, pending: PendingBlock[]) {
  return { partitionKey, rowKey: "head", count, ...toJsonColumns("pending", pending) };
}

function posOf(row: Row): number {
  const key = String(row.rowKey);
  return Number(key.slice(key.lastIndexOf("!") + 1));
}
