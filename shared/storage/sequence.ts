import { randomUUID } from "node:crypto";
import { odata, type TableClient, type TransactionAction } from "@azure/data-tables";
import { BUCKET_SIZE, bucketKey, bucketOf, groupByBucket } from "./buckets.js";
import { fromJsonColumns, toJsonColumns } from "./jsonColumns.js";
import { queryAll, queryPages, rowRange, type Row } from "./queries.js";
import { ConcurrencyError } from "../errors.js";
import { backOff } from "./retry.js";
import { readRow, stringColumn } from "./rows.js";
import { isConflict, isNotFound, pad } from "./tableErrors.js";
import { planTransactions } from "./transactions.js";
import { mapLimit } from "../util/concurrency.js";

/** How long a writer's lease on the head lasts (a hold is three round trips); one that runs out is taken over. */
export const STALE_MS = 30_000;
/** How long a writer waits for the lease before giving up (the job is then retried from its queue). */
const LEASE_WAIT_MS = 120_000;
/** Items per block (a block row holds its items until its rows are written: 200 paths of 1,024 characters fit one entity). */
const BLOCK_SIZE = 200;
/** Blocks still being written, at most: a writer waits while this many are pending. */
const MAX_PENDING = 16;

/** The head and pending blocks as a writer read them when it took the lease. */
interface Lease {
  count: number;
  writer: string;
  etag: string;
  pending: PendingBlock[];
}
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
 *   `<base>!head`      the `head` row (`count`: positions handed out; the writer holding the lease, until
 *                      when) and a `block!<id>` row per block of positions handed out but not yet written
 *   `<base>!<bucket>`  `pos!<pos>` rows, 1,000 positions per partition: pages and look-ups by position
 *   `<base>!k<group>`  `key!<key>` rows in groups the caller chooses (keys appended together share few
 *                      groups, so they are read and written a query or transaction per group)
 * Appending takes a lease on the head (a write under the ETag read, so one writer at a time hands out
 * positions), reads its keys' rows and the pending blocks' items (a key found there keeps its position),
 * then, in one transaction, moves the count past a block of the rest, records the block as a row and gives
 * the lease up. It writes the block's position and key rows outside the lease and deletes the block row.
 * A hold is three round trips, so writers take turns. A writer that dies holding the lease leaves it to
 * run out; one that dies writing its block leaves the block row, and once it is `staleMs` old the next
 * writer finishes it (writing the same rows), so positions never get a gap and the count is exact; a writer
 * whose keys a pending block holds finishes that block at once, so append returns only positions whose rows
 * exist. Readers see positions up to the first pending block.
 */
export class KeyedSequence {
  constructor(
    readonly table: TableClient,
    readonly base: string,
    /** How long a lease lasts, and a block stays pending, before another writer takes it over (tests shorten it). */
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
    const { count, pending } = await this.readHead();
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
      // Holding the lease, nobody else hands out positions: what we read now stays true until we give it up.
      const positions = await this.positionsOf(todo);
      for (const block of lease.pending) block.items.forEach((item, i) => positions.set(item.key, block.from + i));
      for (const item of todo) if (positions.has(item.key)) results.set(item.key, { pos: positions.get(item.key)!, created: false });
      // A key a pending block holds keeps that block's position, and its row must exist before the position is
      // returned: the block's writer may have died (a job stopped mid-append and resumed at once), so it is
      // written here, outside the lease (the same upserts its writer makes, harmless if that writer is alive).
      const ours = new Set(todo.map((item) => item.key));
      const holding = lease.pending.filter((block) => block.items.some((item) => ours.has(item.key)));
      const fresh = todo.filter((item) => !positions.has(item.key));
      if (fresh.length === 0) {
        await this.release(lease);
        await mapLimit(holding, 4, (block) => this.finish(block));
        continue;
      }
      const block: PendingBlock = { id: randomUUID(), from: lease.count, at: Date.now(), items: fresh };
      // One transaction: the count moves past the block, the block is recorded, the lease is given up.
      const head = this.headEntity({ count: lease.count + fresh.length, writer: "", leaseUntil: 0 });
      const blockRow = {
        partitionKey: this.headPartition,
        rowKey: blockRowKey(block.id),
        from: block.from,
        at: block.at,
        ...toJsonColumns("items", block.items),
      };
      try {
        await this.table.submitTransaction([
          ["update", head, "Replace", { etag: lease.etag }],
          ["create", blockRow],
        ]);
      } catch (error) {
        throw isConflict(error) ? new ConcurrencyError(`sequence ${this.base} (lease ran out)`) : error;
      }
      await mapLimit([block, ...holding], 4, (b) => this.finish(b));
      block.items.forEach((item, i) => results.set(item.key, { pos: block.from + i, created: true }));
    }
    return items.map((i) => ({ key: i.key, ...results.get(i.key)! }));
  }

  /**
   * Takes the lease on the head, waiting while a live writer holds it (or while MAX_PENDING blocks are being
   * written), and first finishing any block whose writer died (pending longer than `staleMs`).
   */
  private async acquire(): Promise<Lease> {
    const writer = randomUUID();
    const deadline = Date.now() + LEASE_WAIT_MS;
    for (let attempt = 0; ; attempt++) {
      const head = await this.readHead();
      const stale = head.pending.filter((block) => block.at + this.staleMs < Date.now());
      const held = head.writer !== "" && head.leaseUntil > Date.now();
      if (!held && stale.length) {
        await mapLimit(stale, 4, (block) => this.finish(block)); // a dead writer's: the same rows again
        continue;
      }
      if (!held && head.pending.length < MAX_PENDING) {
        try {
          const entity = this.headEntity({ count: head.count, writer, leaseUntil: Date.now() + this.staleMs });
          const response = head.etag ? await this.table.updateEntity(entity, "Replace", { etag: head.etag }) : await this.table.createEntity(entity);
          return { count: head.count, writer, etag: String(response.etag), pending: head.pending };
        } catch (error) {
          if (!isConflict(error)) throw error;
        }
      }
      if (Date.now() > deadline) throw new ConcurrencyError(`sequence ${this.base} (${held ? "held by another writer" : "too many blocks pending"})`);
      await backOff(Math.min(attempt, 3));
    }
  }

  /** Gives the lease up without handing out positions; one that ran out meanwhile was taken over, which is fine. */
  private async release(lease: Lease): Promise<void> {
    try {
      await this.table.updateEntity(this.headEntity({ count: lease.count, writer: "", leaseUntil: 0 }), "Replace", { etag: lease.etag });
    } catch (error) {
      if (!isConflict(error)) throw error;
    }
  }

  private headEntity(head: { count: number; writer: string; leaseUntil: number }) {
    return { partitionKey: this.headPartition, rowKey: "head", ...head };
  }

  /** The head and the pending blocks: one query of the head partition (a head row and a few block rows). */
  private async readHead(): Promise<{ count: number; writer: string; leaseUntil: number; etag: string | undefined; pending: PendingBlock[] }> {
    const rows = await queryAll(this.table, odata`PartitionKey eq ${this.headPartition}`);
    const head = rows.find((row) => row.rowKey === "head");
    const pending = rows
      .filter((row) => String(row.rowKey).startsWith("block!"))
      .map((row): PendingBlock => ({
        id: String(row.rowKey).slice("block!".length),
        from: Number(row.from),
        at: Number(row.at),
        items: fromJsonColumns<SequenceItem[]>(row, "items", []),
      }));
    return {
      count: Number(head?.count ?? 0),
      writer: stringColumn(head, "writer"),
      leaseUntil: Number(head?.leaseUntil ?? 0),
      etag: head ? String(head.etag) : undefined,
      pending,
    };
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

  /** Writes a block's position rows, then its key rows (upserts: redoing it writes the same), then drops its block row. */
  private async finish(block: PendingBlock): Promise<void> {
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
    try {
      await this.table.deleteEntity(this.headPartition, blockRowKey(block.id));
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
}

const blockRowKey = (id: string) => `block!${id}`;

function posOf(row: Row): number {
  const key = String(row.rowKey);
  return Number(key.slice(key.lastIndexOf("!") + 1));
}
