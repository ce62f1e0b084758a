import { randomUUID } from "node:crypto";
import type { TableClient, TransactionAction } from "@azure/data-tables";
import { bucketKey, bucketOf, groupByBucket } from "./buckets.js";
import { fromJsonColumns, toJsonColumns } from "./jsonColumns.js";
import { queryPages, rowRange, type Row } from "./queries.js";
import { RETRY, retryOnConflict } from "./retry.js";
import { readRow } from "./rows.js";
import { isConflict, pad } from "./tableErrors.js";
import { planTransactions } from "./transactions.js";
import { mapLimit } from "../util/concurrency.js";

/** A claim or a pending block older than this belongs to a writer that died: others may finish or take it over. */
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
 *   `<base>!head`    one row: `count` (positions handed out) and the blocks still being written
 *   `<base>!<bucket>`  `pos!<pos>` rows, 1,000 positions per partition: pages and look-ups by position
 *   `<base>!k<group>`  `key!<key>` rows in groups the caller chooses (keys appended together share few
 *                    groups, so claims and key rows go in a transaction per group): look-up by key
 * Appending a block of items takes three steps that can each be redone: (1) each key is claimed by
 * creating its key row (a key that exists already keeps its position), (2) positions are handed out by
 * one update of the head row under its ETag, which also records the block, items included, as pending,
 * (3) the position and key rows are written, and the block is cleared from the head. A writer that dies
 * after (2) leaves its block in the head; the next writer finishes it, so positions never get a gap and
 * the count is exact. A claim from a writer that died before (2) is taken over once stale. Readers see
 * positions up to the first pending block.
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
      const blockId = randomUUID();
      let todo = unique.slice(start, start + BLOCK_SIZE);
      // Keys another live writer is adding right now are waited for: their positions come from that writer.
      for (let round = 0; todo.length > 0; round++) {
        const claims = await this.claimAll(todo, blockId);
        const mine = todo.filter((item) => claims.get(item.key) === "claimed");
        for (const item of todo) {
          const claim = claims.get(item.key);
          if (typeof claim === "number") results.set(item.key, { pos: claim, created: false });
        }
        if (mine.length) {
          const block = await this.allocate(blockId, mine);
          await this.writeBlock(block);
          await this.clearBlock(block.id);
          block.items.forEach((item, i) => results.set(item.key, { pos: block.from + i, created: true }));
        }
        todo = todo.filter((item) => claims.get(item.key) === "busy");
        if (todo.length) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 50 * 2 ** Math.min(round, 5))));
      }
    }
    return items.map((i) => ({ key: i.key, ...results.get(i.key)! }));
  }

  /**
   * Claims keys for a block, a transaction of key-row creates per group; a group where some key exists
   * already (or is claimed) falls back to claiming key by key.
   */
  private async claimAll(items: readonly SequenceItem[], blockId: string): Promise<Map<string, number | "claimed" | "busy">> {
    const claims = new Map<string, number | "claimed" | "busy">();
    const groups = new Map<string, SequenceItem[]>();
    for (const item of items) groups.set(item.group, [...(groups.get(item.group) ?? []), item]);
    await mapLimit([...groups.values()], 8, async (group) => {
      const partitionKey = this.keyPartition(group[0]!.group);
      try {
        const at = Date.now();
        await this.table.submitTransaction(group.map((item): TransactionAction => ["create", { partitionKey, rowKey: this.keyRowKey(item.key), claim: blockId, claimedAt: at }]));
        for (const item of group) claims.set(item.key, "claimed");
      } catch (error) {
        if (!isConflict(error)) throw error;
        const one = await mapLimit(group, 16, (item) => this.claim(item, blockId));
        group.forEach((item, i) => claims.set(item.key, one[i]!));
      }
    });
    return claims;
  }

  private head(): Promise<Row | undefined> {
    return readRow(this.table, this.headPartition, "head");
  }

  /** Claims a key for a block: its position if it has one, "claimed", or "busy" (a live writer holds it). */
  private async claim(item: SequenceItem, blockId: string): Promise<number | "claimed" | "busy"> {
    const partitionKey = this.keyPartition(item.group);
    const rowKey = this.keyRowKey(item.key);
    return retryOnConflict(`key ${item.key}`, async () => {
      const row = await readRow(this.table, partitionKey, rowKey);
      if (!row) {
        await this.table.createEntity({ partitionKey, rowKey, claim: blockId, claimedAt: Date.now() });
        return "claimed";
      }
      if (typeof row.pos === "number") return row.pos;
      if (row.claim === blockId) return "claimed";
      if (Date.now() - Number(row.claimedAt ?? 0) < this.staleMs) return "busy";
      // The claimer died. If its block got positions, finish that block; otherwise the key is free.
      const pending = decodeHead(await this.head()).pending.find((b) => b.id === row.claim);
      if (pending) {
        await this.writeBlock(pending);
        await this.clearBlock(pending.id);
        return RETRY;
      }
      await this.table.updateEntity({ partitionKey, rowKey, claim: blockId, claimedAt: Date.now() }, "Replace", { etag: String(row.etag) });
      return "claimed";
    });
  }

  /** Hands out positions to a block by one head update (finishing stale blocks of dead writers first). */
  private async allocate(blockId: string, items: SequenceItem[]): Promise<PendingBlock> {
    return retryOnConflict(`sequence ${this.base}`, async () => {
      const row = await this.head();
      const { count, pending } = decodeHead(row);
      const stale = pending.filter((b) => Date.now() - b.at > this.staleMs);
      if (stale.length) {
        for (const block of stale) {
          await this.writeBlock(block);
          await this.clearBlock(block.id);
        }
        return RETRY;
      }
      const block: PendingBlock = { id: blockId, from: count, at: Date.now(), items };
      const entity = encodeHead(this.headPartition, count + items.length, [...pending, block]);
      if (row) await this.table.updateEntity(entity, "Replace", { etag: String(row.etag) });
      else await this.table.createEntity(entity);
      return block;
    });
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
