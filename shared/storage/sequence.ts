import { randomUUID } from "node:crypto";
import { odata, type TableClient, type TransactionAction } from "@azure/data-tables";
import { BUCKET_SIZE, bucketKey, bucketOf, groupByBucket } from "./buckets.js";
import { fromJsonColumns, toJsonColumns } from "./jsonColumns.js";
import { queryAll, queryPages, rowRange, type Row } from "./queries.js";
import { ConcurrencyError } from "../errors.js";
import { backOff } from "./retry.js";
import { readRow } from "./rows.js";
import { isConflict, pad } from "./tableErrors.js";
import { planTransactions } from "./transactions.js";
import { mapLimit } from "../util/concurrency.js";

/** How long a writer's lease on the head lasts (a hold takes a fraction of a second); one that runs out is taken over. */
export const STALE_MS = 30_000;
/** How long a writer waits for the lease before giving up (the job is then retried from its queue). */
const LEASE_WAIT_MS = 120_000;

/** The head as a writer holding the lease last wrote it. */
interface Lease {
  count: number;
  writer: string;
  leaseUntil: number;
  etag: string;
}
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
 * Appending takes a lease in the head row (writer and expiry, set under the ETag read), so one writer at a
 * time hands out positions: holding it, read our keys' rows (those with a position keep it), record the
 * block of the rest in the head as pending with the count moved past it, write its position and key rows,
 * then clear it and give the lease up. A writer that dies leaves its lease to run out and its block
 * pending; the next writer finishes the block (writing the same rows), so positions never get a gap and
 * the count is exact. A writer whose lease ran out mid-hold fails its next head write (the ETag moved) and
 * its job is retried. Readers see positions up to the first pending block.
 */
export class KeyedSequence {
  constructor(
    readonly table: TableClient,
    readonly base: string,
    /** How long a lease lasts before another writer may take it over (tests shorten it). */
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
    for (let start = offset; start < end; start = (bucketOf(start) + 1) * BUCKET_SIZE) {
      const stop = Math.min(end, (bucketOf(start) + 1) * BUCKET_SIZE);
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
      const lease = await this.acquire();
      // Holding the lease, nobody else hands out positions: the key rows read now stay true until we release.
      const positions = await this.positionsOf(todo);
      for (const [key, pos] of positions) results.set(key, { pos, created: false });
      const fresh = todo.filter((item) => !positions.has(item.key));
      if (fresh.length === 0) {
        await this.release(lease);
        continue;
      }
      const block: PendingBlock = { id: randomUUID(), from: lease.count, at: Date.now(), items: fresh };
      // Recorded in the head before its rows are written: a writer that dies here leaves it for the next.
      const allocated = await this.writeHead({ ...lease, count: lease.count + fresh.length, pending: [block] }, lease.etag).catch((error: unknown) => {
        throw isConflict(error) ? new ConcurrencyError(`sequence ${this.base} (lease ran out)`) : error;
      });
      await this.writeBlock(block);
      await this.release({ ...lease, count: lease.count + fresh.length, etag: allocated });
      block.items.forEach((item, i) => results.set(item.key, { pos: block.from + i, created: true }));
    }
    return items.map((i) => ({ key: i.key, ...results.get(i.key)! }));
  }

  /**
   * Takes the lease in the head row, waiting while a live writer holds it (holds last a few hundred
   * milliseconds) and finishing the pending block of one that died (its lease ran out).
   */
  private async acquire(): Promise<Lease> {
    const writer = randomUUID();
    const deadline = Date.now() + LEASE_WAIT_MS;
    for (let attempt = 0; ; attempt++) {
      const row = await this.head();
      const head = decodeHead(row);
      if (head.writer && head.leaseUntil > Date.now()) {
        if (Date.now() > deadline) throw new ConcurrencyError(`sequence ${this.base} (held by another writer)`);
        await backOff(Math.min(attempt, 4));
        continue;
      }
      for (const block of head.pending) await this.writeBlock(block); // a dead writer's: finish it, the same rows again
      const lease: Lease = { count: head.count, writer, leaseUntil: Date.now() + this.staleMs, etag: "" };
      try {
        lease.etag = await this.writeHead({ ...lease, pending: [] }, row ? String(row.etag) : undefined);
        return lease;
      } catch (error) {
        if (!isConflict(error)) throw error;
        if (Date.now() > deadline) throw new ConcurrencyError(`sequence ${this.base}`);
        await backOff(Math.min(attempt, 4));
      }
    }
  }

  /** Clears the pending block and gives the lease up; a lease that ran out meanwhile was taken over, and the taker finished our block. */
  private async release(lease: Lease): Promise<void> {
    try {
      await this.writeHead({ count: lease.count, writer: "", leaseUntil: 0, pending: [] }, lease.etag);
    } catch (error) {
      if (!isConflict(error)) throw error;
    }
  }

  /** Writes the head under `etag` (creates it when there is none); returns its new ETag. */
  private async writeHead(head: { count: number; writer: string; leaseUntil: number; pending: PendingBlock[] }, etag: string | undefined): Promise<string> {
    const entity = { partitionKey: this.headPartition, rowKey: "head", count: head.count, writer: head.writer, leaseUntil: head.leaseUntil, ...toJsonColumns("pending", head.pending) };
    const response = etag ? await this.table.updateEntity(entity, "Replace", { etag }) : await this.table.createEntity(entity);
    return String(response.etag);
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
}

function decodeHead(row: Row | undefined): { count: number; pending: PendingBlock[]; writer: string; leaseUntil: number } {
  return {
    count: Number(row?.count ?? 0),
    pending: row ? fromJsonColumns<PendingBlock[]>(row, "pending", []) : [],
    writer: String(row?.writer ?? ""),
    leaseUntil: Number(row?.leaseUntil ?? 0),
  };
}

function posOf(row: Row): number {
  const key = String(row.rowKey);
  return Number(key.slice(key.lastIndexOf("!") + 1));
}
