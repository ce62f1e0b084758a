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
/** The bucket (and so the partition) an id lives in: ids 0-999 are bucket 0. */
export const bucketOf = (id: number) => Math.floor(id / BUCKET_SIZE);
export const bucketKey = (bucket: number) => pad(bucket, 6);

/**
 * Ids per count row. Writers serialise on the count row of the ids they change (its ETag), so counting
 * 100 ids a row lets partners labeling different hundreds of one bucket write at once.
 */
export const GROUP_SIZE = 100;
/** Groups an addition writes at once. */
const ADD_GROUPS = 8;
/** Group reads a page makes at once. */
const PAGE_READS = 16;
/** The group whose count row counts an id: ids 0-99 are group 0, ten groups to a bucket. */
export const groupOf = (id: number) => Math.floor(id / GROUP_SIZE);
/** The bucket (partition of count rows) that holds a group's count row. */
export const bucketOfGroup = (group: number) => Math.floor((group * GROUP_SIZE) / BUCKET_SIZE);

/**
 * Ids in chunks within one group each, one transaction's worth: a transaction holds at most 100 operations,
 * so a chunk holds 99 ids beside the group's count row, less `otherRows` for the caller's own rows in the
 * same transaction (a marker, an outbox row).
 */
export function countRowChunks(ids: Iterable<number>, otherRows = 0): number[][] {
  const size = 99 - otherRows;
  return [...groupByCountRow(ids).values()].flatMap((group) =>
    Array.from({ length: Math.ceil(group.length / size) }, (_, i) => group.slice(i * size, (i + 1) * size)),
  );
}

/** Ids grouped by count row, groups ascending, ids ascending and unique within each. */
export function groupByCountRow(ids: Iterable<number>): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  for (const id of [...new Set(ids)].sort((a, b) => a - b)) {
    const group = groupOf(id);
    let members = groups.get(group);
    if (!members) groups.set(group, (members = []));
    members.push(id);
  }
  return groups;
}

/** Ascending groups as [first, last] runs within one bucket each: a page reads one row-key range per run. */
function rangesByBucket(groups: readonly number[]): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  for (const group of groups) {
    const last = ranges.at(-1);
    if (last && bucketOfGroup(last[0]) === bucketOfGroup(group)) last[1] = group;
    else ranges.push([group, group]);
  }
  return ranges;
}

/** Which of a bucket's BUCKET_SIZE ids are in a set, as bits (stored base64: 168 characters a bucket). */
export class BucketBitmap {
  private constructor(private readonly bits: Uint8Array) {}

  /** The bitmap a stored string holds; an empty or missing one is the empty set. */
  static decode(stored: string): BucketBitmap {
    const bits = new Uint8Array(BUCKET_SIZE / 8);
    if (stored) bits.set(Buffer.from(stored, "base64").subarray(0, bits.length));
    return new BucketBitmap(bits);
  }

  has(offset: number): boolean {
    return offset >= 0 && offset < BUCKET_SIZE && (this.bits[offset >> 3]! & (1 << (offset & 7))) !== 0;
  }

  /** Sets an id's bit (`offset` = id - bucket * BUCKET_SIZE); says whether it was clear. */
  set(offset: number): boolean {
    if (offset < 0 || offset >= BUCKET_SIZE) throw new RangeError(`offset ${offset} is outside a bucket of ${BUCKET_SIZE}`);
    if (this.has(offset)) return false;
    this.bits[offset >> 3]! |= 1 << (offset & 7);
    return true;
  }

  encode(): string {
    return Buffer.from(this.bits).toString("base64");
  }
}

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

/** A count row's counts: its items, named counters (e.g. per review state), and a version raised by every change. */
export interface BucketCounts {
  total: number;
  version: number;
  counters: Record<string, number>;
}

export const emptyCounts = (): BucketCounts => ({ total: 0, version: 0, counters: {} });

/** The row key of a group's count row in its bucket's partition; count rows sort before every item row. */
export const countRowKey = (group: number) => `!count!${pad(group, 9)}`;

/** A count row as BucketCounts (its `c_<name>` columns are the counters); a missing row counts nothing. */
export function countsOf(row: Record<string, unknown> | undefined): BucketCounts {
  if (!row) return emptyCounts();
  const counters: Record<string, number> = {};
  for (const [name, value] of Object.entries(row)) if (name.startsWith("c_") && typeof value === "number") counters[name.slice(2)] = value;
  return { total: Number(row.total ?? 0), version: Number(row.version ?? 0), counters };
}

export function countsEntity(partitionKey: string, group: number, counts: BucketCounts): { partitionKey: string; rowKey: string } & Record<string, unknown> {
  return {
    partitionKey,
    rowKey: countRowKey(group),
    total: counts.total,
    version: counts.version,
    ...Object.fromEntries(Object.entries(counts.counters).map(([name, n]) => [`c_${name}`, n])),
  };
}

/** A count row written with the changes it counts: created for a new group, else updated under its ETag. */
export function countAction(partitionKey: string, group: number, counts: BucketCounts, etag: string | undefined): TransactionAction {
  return etag ? ["update", countsEntity(partitionKey, group, counts), "Replace", { etag }] : ["create", countsEntity(partitionKey, group, counts)];
}

/**
 * The summary of a collection's count rows: one row per bucket (`summary!<bucket>`) in the collection's
 * meta partition, mirroring the count rows of that bucket's groups, so its totals, filtered counts and
 * the groups a page falls in cost one range read however large it is, and writers contend only with
 * writers of the same bucket. A summary row is written after the count rows it mirrors, by whoever
 * changed them; an entry only ever moves to a higher version, so racing (or late) writers cannot set it
 * back, and a writer that dies before writing it leaves an older entry that the next change of that
 * group (or a redelivered message) brings up to date.
 */
export class BucketSummary {
  constructor(
    private readonly table: TableClient,
    readonly partitionKey: string,
  ) {}

  /** Every group's counts, groups ascending. */
  async read(): Promise<Map<number, BucketCounts>> {
    const summary = new Map<number, BucketCounts>();
    for await (const page of queryPages(this.table, rowPrefix(this.partitionKey, "summary!"))) {
      for (const row of page) for (const [group, counts] of decodeSummary(row)) summary.set(group, counts);
    }
    return new Map([...summary].sort((a, b) => a[0] - b[0]));
  }

  /** Takes newer counts of some groups into the summary (a row per bucket touched, under its ETag). */
  async record(updates: ReadonlyMap<number, BucketCounts>): Promise<void> {
    const byBucket = new Map<number, Array<[number, BucketCounts]>>();
    for (const [group, counts] of updates) byBucket.set(bucketOfGroup(group), [...(byBucket.get(bucketOfGroup(group)) ?? []), [group, counts]]);
    await mapLimit([...byBucket], 8, ([bucket, entries]) =>
      retryOnConflict(`summary ${this.partitionKey}/${bucket}`, async () => {
        const rowKey = `summary!${bucketKey(bucket)}`;
        const row = await readRow(this.table, this.partitionKey, rowKey);
        const summary = decodeSummary(row);
        let changed = false;
        for (const [group, counts] of entries) {
          if ((summary.get(group)?.version ?? -1) < counts.version) {
            summary.set(group, counts);
            changed = true;
          }
        }
        if (!changed) return;
        const entity = { partitionKey: this.partitionKey, rowKey, ...toJsonColumns("groups", encodeSummary(summary)) };
        if (row) await this.table.updateEntity(entity, "Replace", { etag: String(row.etag) });
        else await this.table.createEntity(entity);
      }),
    );
  }
}

type EncodedSummary = Record<string, [number, number, Record<string, number>]>;

function decodeSummary(row: Record<string, unknown> | undefined): Map<number, BucketCounts> {
  const encoded = row ? fromJsonColumns<EncodedSummary>(row, "groups", {}) : {};
  return new Map(
    Object.entries(encoded)
      .map(([group, [total, version, counters]]): [number, BucketCounts] => [Number(group), { total, version, counters }])
      .sort((a, b) => a[0] - b[0]),
  );
}

function encodeSummary(summary: ReadonlyMap<number, BucketCounts>): EncodedSummary {
  return Object.fromEntries([...summary].map(([group, c]) => [String(group), [c.total, c.version, c.counters]]));
}

/** Per group, the counts with the highest version among several writes' results (parallel writes of one group finish in any order). */
export function newestCounts(results: ReadonlyArray<ReadonlyMap<number, BucketCounts>>): Map<number, BucketCounts> {
  const newest = new Map<number, BucketCounts>();
  for (const result of results) for (const [group, counts] of result) if ((newest.get(group)?.version ?? -1) < counts.version) newest.set(group, counts);
  return newest;
}

/** Per group, the counts with the lowest version among several writes' results: the state before them (see newestCounts). */
export function oldestCounts(results: ReadonlyArray<ReadonlyMap<number, BucketCounts>>): Map<number, BucketCounts> {
  const oldest = new Map<number, BucketCounts>();
  for (const result of results) for (const [group, counts] of result) if ((oldest.get(group)?.version ?? Infinity) > counts.version) oldest.set(group, counts);
  return oldest;
}

/** Sum of some counters (all of a bucket's items when `names` is undefined). */
export function countOf(counts: BucketCounts, names: readonly string[] | undefined): number {
  return names ? names.reduce((sum, name) => sum + (counts.counters[name] ?? 0), 0) : counts.total;
}

/**
 * A set of items keyed by integer id, spread over bucket partitions `<base>!<bucket>` (1,000 ids each)
 * with a count row per group of 100 ids, and a summary in `<base>!meta`. Items are added exactly once
 * (the count row's ETag serialises a group's additions); reads name the buckets they need.
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

  /** A group's count row (undefined before its first item). */
  countRow(group: number): Promise<Row | undefined> {
    return readRow(this.table, this.partition(bucketOfGroup(group)), countRowKey(group));
  }

  /**
   * Adds items not present yet, exactly once, and counts them (`counters` says what each new item adds to
   * which named counters). Per group of 100 ids: the new item rows and the group's count row go in one
   * transaction under the count row's ETag; a race re-reads and retries. Then the summary takes the new counts
   * (also when nothing was new, so a retry after a crash brings it up to date). Returns how many items
   * this call added.
   */
  async add(
    items: ReadonlyArray<{ id: number; entity: Record<string, unknown> }>,
    counters?: (entity: Record<string, unknown>) => Record<string, number>,
  ): Promise<number> {
    const byId = new Map(items.map((item) => [item.id, item.entity]));
    const updates = new Map<number, BucketCounts>();
    const noteCounts = (group: number, counts: BucketCounts) => {
      if ((updates.get(group)?.version ?? -1) < counts.version) updates.set(group, counts);
    };
    // A group at a time (its transactions in turn, each carrying the count row's ETag from the last), so
    // the group's own chunks never race for its count row; ADD_GROUPS groups at once.
    const added = await mapLimit([...groupByCountRow(byId.keys())], ADD_GROUPS, async ([group, ids]) => {
      const partitionKey = this.partition(bucketOfGroup(group));
      let addedHere = 0;
      await retryOnConflict(`group ${group} of ${this.base}`, async () => {
        const row = await this.countRow(group);
        let counts = countsOf(row);
        let etag = row ? String(row.etag) : undefined;
        // Items are only ever created with their count row, so a group without one holds none: no read.
        const present = counts.total > 0 ? await this.getMany(ids) : new Map<number, Row>();
        const fresh = ids.filter((id) => !present.has(id));
        for (const chunk of countRowChunks(fresh)) {
          const next: BucketCounts = { total: counts.total + chunk.length, version: counts.version + 1, counters: { ...counts.counters } };
          const actions: TransactionAction[] = chunk.map((id) => {
            const entity = byId.get(id)!;
            for (const [name, n] of Object.entries(counters?.(entity) ?? {})) next.counters[name] = (next.counters[name] ?? 0) + n;
            return ["create", { ...entity, partitionKey, rowKey: this.rowKey(id) }];
          });
          actions.push(countAction(partitionKey, group, next, etag));
          const response = await this.table.submitTransaction(actions);
          addedHere += chunk.length;
          counts = next;
          noteCounts(group, next);
          etag = response.getResponseForEntity(countRowKey(group))?.etag ?? (await this.countRow(group))?.etag?.toString();
        }
        noteCounts(group, counts);
      });
      return addedHere;
    });
    await this.summary.record(updates);
    return added.reduce((sum, n) => sum + n, 0);
  }

  /** Count rows of some groups, read anew. */
  async readCounts(groups: Iterable<number>): Promise<Map<number, BucketCounts>> {
    const counts = new Map<number, BucketCounts>();
    await mapLimit([...new Set(groups)], 16, async (group) => {
      const row = await this.countRow(group);
      if (row) counts.set(group, countsOf(row));
    });
    return counts;
  }

  /**
   * The count rows of every bucket the summary knows, read anew: one range read per bucket (exact, for
   * decisions that must not rest on the summary).
   */
  async exactCounts(): Promise<Map<number, BucketCounts>> {
    const buckets = [...new Set([...(await this.summary.read()).keys()].map(bucketOfGroup))];
    const counts = new Map<number, BucketCounts>();
    await mapLimit(buckets, 16, async (bucket) => {
      for await (const page of queryPages(this.table, rowPrefix(this.partition(bucket), "!count!"))) {
        for (const row of page) counts.set(Number(String(row.rowKey).slice("!count!".length)), countsOf(row));
      }
    });
    return new Map([...counts].sort((a, b) => a[0] - b[0]));
  }

  /** Items in id order, bucket by bucket, optionally filtered (an OData expression on item properties). */
  async *scan(filter?: string, select?: string[]): AsyncIterable<Row[]> {
    const buckets = [...new Set([...(await this.summary.read()).keys()].map(bucketOfGroup))];
    for (const bucket of buckets) {
      for await (const page of queryPages(this.table, rowPrefix(this.partition(bucket), `${this.prefix}!`, filter), { select })) yield page;
    }
  }

  /**
   * Items [offset, offset + limit) in id order among those counted by `counters` (all when undefined) and
   * matching `filter` (the same selection as an OData expression). The summary says which groups hold
   * that stretch, so a page reads only those groups: one row-key range per bucket from its first such group
   * to its last, PAGE_READS at once. At most `limit` reads however large the collection, and never more
   * than the buckets the page's rows are in.
   */
  async page(offset: number, limit: number, counters?: readonly string[], filter?: string): Promise<{ total: number; rows: Row[] }> {
    const summary = await this.summary.read();
    let total = 0;
    for (const counts of summary.values()) total += countOf(counts, counters);
    const rows: Row[] = [];
    if (limit <= 0) return { total, rows };
    // The groups holding a selected item, in id order, and the first one the page falls in.
    const groups = [...summary].map(([group, counts]) => ({ group, selected: countOf(counts, counters) })).filter((g) => g.selected > 0);
    let skip = offset;
    let next = 0;
    while (next < groups.length && skip >= groups[next]!.selected) skip -= groups[next++]!.selected;
    // The groups that should fill the page, read together; more after them if the summary counted more than
    // the rows hold (a count row written a moment ago whose summary entry is still on its way).
    while (rows.length < limit && next < groups.length) {
      const batch: number[] = [];
      for (let wanted = skip + limit - rows.length; wanted > 0 && next < groups.length; next++) {
        batch.push(groups[next]!.group);
        wanted -= groups[next]!.selected;
      }
      const read = await mapLimit(rangesByBucket(batch), PAGE_READS, ([first, last]) => this.groupRows(first, last, filter));
      for (const row of read.flat()) {
        if (skip > 0) skip--;
        else if (rows.length < limit) rows.push(row);
      }
    }
    return { total, rows };
  }

  /** The items of groups `first` to `last` of one bucket, optionally filtered: one row-key range. */
  private async groupRows(first: number, last: number, filter?: string): Promise<Row[]> {
    const range = rowRange(this.partition(bucketOfGroup(first)), this.rowKey(first * GROUP_SIZE), this.rowKey((last + 1) * GROUP_SIZE));
    const rows: Row[] = [];
    for await (const page of queryPages(this.table, filter ? `${range} and (${filter})` : range)) rows.push(...page);
    return rows;
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
