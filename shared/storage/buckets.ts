import type { TableClient, TransactionAction } from "@azure/data-tables";
import { fromJsonColumns, toJsonColumns } from "./jsonColumns.js";
import { queryPages, rowPrefix, rowRange, type Row } from "./queries.js";
import { retryOnConflict } from "./retry.js";
import { readRow } from "./rows.js";
import { pad } from "./tableErrors.js";
import { planTransactions } from "./transactions.js";
import { mapLimit } from "../util/concurrency.js";

/**
 * Ids per bucket. Azurite finds a row by scanning its partition and Azure serves a partition from one
 * server, so nothing that grows (a campaign's images, a set's members, the image store) lives in one
 * partition: each bucket of 1,000 consecutive ids has a partition of its own, and every operation
 * touches the buckets of the ids it names, never the whole collection.
 */
export const BUCKET_SIZE = 1000;
export const bucketOf = (id: number) => Math.floor(id / BUCKET_SIZE);
export const bucketKey = (bucket: number) => pad(bucket, 6);

/** Ids grouped by bucket, buckets ascending, ids ascending and unique within each. */
export function groupByBucket(ids: Iterable<number>): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  for (const id of [...new Set(ids)].sort((a, b) => a - b)) {
    const bucket = bucketOf(id);
    let group = groups.get(bucket);
    if (!group) groups.set(bucket, (group = []));
    group.push(id);
  }
  return groups;
}

/** A bucket's counts: its items, named counters (e.g. per review state), and a version raised by every change. */
export interface BucketCounts {
  total: number;
  version: number;
  counters: Record<string, number>;
}

export const emptyCounts = (): BucketCounts => ({ total: 0, version: 0, counters: {} });

/** The row key of each bucket partition's count row; it sorts before every item row. */
export const COUNT_ROW = "!count";

export function countsOf(row: Record<string, unknown> | undefined): BucketCounts {
  if (!row) return emptyCounts();
  const counters: Record<string, number> = {};
  for (const [name, value] of Object.entries(row)) if (name.startsWith("c_") && typeof value === "number") counters[name.slice(2)] = value;
  return { total: Number(row.total ?? 0), version: Number(row.version ?? 0), counters };
}

export function countsEntity(partitionKey: string, counts: BucketCounts): { partitionKey: string; rowKey: string } & Record<string, unknown> {
  return {
    partitionKey,
    rowKey: COUNT_ROW,
    total: counts.total,
    version: counts.version,
    ...Object.fromEntries(Object.entries(counts.counters).map(([name, n]) => [`c_${name}`, n])),
  };
}

/** The count row written with the changes it counts: created for a new bucket, else updated under its ETag. */
export function countAction(partitionKey: string, counts: BucketCounts, etag: string | undefined): TransactionAction {
  return etag ? ["update", countsEntity(partitionKey, counts), "Replace", { etag }] : ["create", countsEntity(partitionKey, counts)];
}

/**
 * One row mirroring the count rows of all buckets of a collection, so its totals, filtered counts and
 * the buckets a page falls in cost one read however many buckets there are. It is written after the
 * buckets it mirrors, by whoever changed them; an entry only ever moves to a higher version, so writers
 * racing each other (or a late one) cannot set it back, and a writer that dies before writing it leaves
 * an older entry that the next change of that bucket (or a redelivered message) brings up to date.
 */
export class BucketSummary {
  constructor(
    private readonly table: TableClient,
    readonly partitionKey: string,
  ) {}

  async read(): Promise<Map<number, BucketCounts>> {
    return decodeSummary(await readRow(this.table, this.partitionKey, "summary"));
  }

  /** Takes newer counts of some buckets into the summary; returns the whole summary as written. */
  async record(updates: ReadonlyMap<number, BucketCounts>): Promise<Map<number, BucketCounts>> {
    if (updates.size === 0) return this.read();
    return retryOnConflict(`summary ${this.partitionKey}`, async () => {
      const row = await readRow(this.table, this.partitionKey, "summary");
      const summary = decodeSummary(row);
      let changed = false;
      for (const [bucket, counts] of updates) {
        if ((summary.get(bucket)?.version ?? -1) < counts.version) {
          summary.set(bucket, counts);
          changed = true;
        }
      }
      if (!changed) return summary;
      const entity = { partitionKey: this.partitionKey, rowKey: "summary", ...toJsonColumns("buckets", encodeSummary(summary)) };
      if (row) await this.table.updateEntity(entity, "Replace", { etag: String(row.etag) });
      else await this.table.createEntity(entity);
      return summary;
    });
  }
}

type EncodedSummary = Record<string, [number, number, Record<string, number>]>;

function decodeSummary(row: Record<string, unknown> | undefined): Map<number, BucketCounts> {
  const encoded = row ? fromJsonColumns<EncodedSummary>(row, "buckets", {}) : {};
  return new Map(
    Object.entries(encoded)
      .map(([bucket, [total, version, counters]]): [number, BucketCounts] => [Number(bucket), { total, version, counters }])
      .sort((a, b) => a[0] - b[0]),
  );
}

function encodeSummary(summary: ReadonlyMap<number, BucketCounts>): EncodedSummary {
  return Object.fromEntries([...summary].map(([bucket, c]) => [String(bucket), [c.total, c.version, c.counters]]));
}

/** Sum of some counters (all of a bucket's items when `names` is undefined). */
export function countOf(counts: BucketCounts, names: readonly string[] | undefined): number {
  return names ? names.reduce((sum, name) => sum + (counts.counters[name] ?? 0), 0) : counts.total;
}

/**
 * A set of items keyed by integer id, spread over bucket partitions `<base>!<bucket>` with a count row
 * each and a summary in `<base>!meta`. Items are added exactly once (the count row's ETag serialises a
 * bucket's additions); reads name the buckets they need.
 */
export class BucketedSet {
  readonly summary: BucketSummary;

  constructor(
    readonly table: TableClient,
    readonly base: string,
    /** Row key prefix of items: `<prefix>!<id padded>`. */
    readonly prefix: string,
  ) {
    this.summary = new BucketSummary(table, `${base}!meta`);
  }

  partition(bucket: number): string {
    return `${this.base}!${bucketKey(bucket)}`;
  }

  rowKey(id: number): string {
    return `${this.prefix}!${pad(id)}`;
  }

  idOf(row: Record<string, unknown>): number {
    const key = String(row.rowKey);
    return Number(key.slice(key.lastIndexOf("!") + 1));
  }

  async get(id: number): Promise<Row | undefined> {
    return readRow(this.table, this.partition(bucketOf(id)), this.rowKey(id));
  }

  /** Items by id: one range read per bucket touched (spanning the ids asked for), a point read for a lone id. */
  async getMany(ids: Iterable<number>): Promise<Map<number, Row>> {
    const found = new Map<number, Row>();
    await mapLimit([...groupByBucket(ids)], 16, async ([bucket, group]) => {
      if (group.length === 1) {
        const row = await this.get(group[0]!);
        if (row) found.set(group[0]!, row);
        return;
      }
      const wanted = new Set(group);
      const filter = rowRange(this.partition(bucket), this.rowKey(group[0]!), this.rowKey(group[group.length - 1]!), true);
      for await (const page of queryPages(this.table, filter)) {
        for (const row of page) {
          const id = this.idOf(row);
          if (wanted.has(id)) found.set(id, row);
        }
      }
    });
    return found;
  }

  /** A bucket's count row (undefined before its first item). */
  countRow(bucket: number): Promise<Row | undefined> {
    return readRow(this.table, this.partition(bucket), COUNT_ROW);
  }

  /**
   * Adds items not present yet, exactly once, and counts them (`counters` says what each new item adds to
   * which named counters). Per bucket: the new item rows and the count row go in one transaction per 99
   * items under the count row's ETag; a race re-reads and retries. Then the summary takes the new counts
   * (also when nothing was new, so a retry after a crash brings it up to date). Returns how many items
   * this call added.
   */
  async add(items: ReadonlyArray<{ id: number; entity: Record<string, unknown> }>, counters?: (entity: Record<string, unknown>) => Record<string, number>): Promise<number> {
    const byId = new Map(items.map((item) => [item.id, item.entity]));
    const updates = new Map<number, BucketCounts>();
    const added = await mapLimit([...groupByBucket(byId.keys())], 8, async ([bucket, ids]) => {
      let count = 0;
      for (let start = 0; start < ids.length; start += 99) {
        const chunk = ids.slice(start, start + 99);
        count += await retryOnConflict(`bucket ${this.partition(bucket)}`, async () => {
          const [row, present] = await Promise.all([this.countRow(bucket), this.getMany(chunk)]);
          const fresh = chunk.filter((id) => !present.has(id));
          const counts = countsOf(row);
          if (fresh.length === 0) {
            updates.set(bucket, counts);
            return 0;
          }
          const next: BucketCounts = { total: counts.total + fresh.length, version: counts.version + 1, counters: { ...counts.counters } };
          const actions: TransactionAction[] = fresh.map((id) => {
            const entity = byId.get(id)!;
            for (const [name, n] of Object.entries(counters?.(entity) ?? {})) next.counters[name] = (next.counters[name] ?? 0) + n;
            return ["create", { ...entity, partitionKey: this.partition(bucket), rowKey: this.rowKey(id) }];
          });
          actions.push(countAction(this.partition(bucket), next, row ? String(row.etag) : undefined));
          await this.table.submitTransaction(actions);
          updates.set(bucket, next);
          return fresh.length;
        });
      }
      return count;
    });
    await this.summary.record(updates);
    return added.reduce((sum, n) => sum + n, 0);
  }

  /** Brings the summary up to date with the count rows of some buckets (after changes made elsewhere). */
  async refreshSummary(buckets: Iterable<number>): Promise<Map<number, BucketCounts>> {
    const updates = new Map<number, BucketCounts>();
    await mapLimit([...new Set(buckets)], 16, async (bucket) => {
      const row = await this.countRow(bucket);
      if (row) updates.set(bucket, countsOf(row));
    });
    return this.summary.record(updates);
  }

  /** The count rows of every bucket the summary knows, read anew (exact, for decisions that must not rest on the summary). */
  async exactCounts(): Promise<Map<number, BucketCounts>> {
    const buckets = [...(await this.summary.read()).keys()];
    const counts = await mapLimit(buckets, 16, async (bucket) => countsOf(await this.countRow(bucket)));
    return new Map(buckets.map((bucket, i) => [bucket, counts[i]!]));
  }

  /** Items in id order, bucket by bucket, optionally filtered (an OData expression on item properties). */
  async *scan(filter?: string, select?: string[]): AsyncIterable<Row[]> {
    for (const bucket of (await this.summary.read()).keys()) {
      for await (const page of queryPages(this.table, rowPrefix(this.partition(bucket), `${this.prefix}!`, filter), { select })) yield page;
    }
  }

  /**
   * Items [offset, offset + limit) in id order among those counted by `counters` (all when undefined) and
   * matching `filter` (the same selection as an OData expression). The summary says which buckets hold
   * that stretch, so a page reads at most the buckets it spans, never the collection.
   */
  async page(offset: number, limit: number, counters?: readonly string[], filter?: string): Promise<{ total: number; rows: Row[] }> {
    const summary = await this.summary.read();
    let total = 0;
    for (const counts of summary.values()) total += countOf(counts, counters);
    const rows: Row[] = [];
    let skip = offset;
    for (const [bucket, counts] of summary) {
      if (rows.length >= limit) break;
      const inBucket = countOf(counts, counters);
      if (skip >= inBucket) {
        skip -= inBucket;
        continue;
      }
      for await (const page of queryPages(this.table, rowPrefix(this.partition(bucket), `${this.prefix}!`, filter))) {
        for (const row of page) {
          if (skip > 0) skip--;
          else if (rows.length < limit) rows.push(row);
        }
        if (rows.length >= limit) break;
      }
      skip = 0;
    }
    return { total, rows };
  }

  /** Updates item rows under their ETags in transactions of up to 100 per bucket (rows read by the caller). */
  async updateRows(updates: ReadonlyArray<{ id: number; etag: string; fields: Record<string, unknown> }>): Promise<void> {
    const byBucket = groupByBucket(updates.map((u) => u.id));
    const byId = new Map(updates.map((u) => [u.id, u]));
    for (const [bucket, ids] of byBucket) {
      const actions = ids.map((id): TransactionAction => {
        const { etag, fields } = byId.get(id)!;
        return ["update", { ...fields, partitionKey: this.partition(bucket), rowKey: this.rowKey(id) }, "Merge", { etag }];
      });
      for (const transaction of planTransactions(actions)) await this.table.submitTransaction(transaction);
    }
  }
}
