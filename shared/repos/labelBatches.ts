import type { TableClient, TransactionAction } from "@azure/data-tables";
import { randomBytes } from "node:crypto";
import type { StoredObject } from "../domain/labels.js";
import { contractTimestamp } from "../domain/time.js";
import { ConcurrencyError } from "../errors.js";
import { retryOnConflict } from "../storage/retry.js";
import { queryAll, rowPrefix } from "../storage/queries.js";
import { fromJsonColumns, toJsonColumns } from "../storage/jsonColumns.js";
import { readRow } from "../storage/rows.js";
import { isConflict, isNotFound, pad } from "../storage/tableErrors.js";
import { planTransactions } from "../storage/transactions.js";
import { mapLimit } from "../util/concurrency.js";
import { countRowChunks, countRowKey, groupByCountRow, groupOf, newestCounts, oldestCounts } from "../storage/buckets.js";
import { submissionTally, type Tally } from "../domain/campaignStats.js";
import type { CampaignImage, CampaignStore, Progress } from "./campaigns.js";

/** One partner request: each listed image's new objects, stored together or not at all. */
export interface LabelBatch {
  campaignId: number;
  /** `<committedAt>_<random>`: sorts by time, names the batch's rows. */
  batchId: string;
  /** When the batch takes effect (contract timestamp); later batches win over earlier ones per image. */
  committedAt: string;
  submittedBy: string;
  entries: Array<{ imageId: number; objects: StoredObject[] }>;
}

export type BatchState = "committed" | "applied" | "aborted";

/** The batch was aborted by its check job before it committed (the request took too long): nothing of it is visible. */
export class BatchAbortedError extends Error {
  constructor(batchId: string) {
    super(`label batch ${batchId} was aborted before it committed`);
    this.name = "BatchAbortedError";
  }
}

/** What storing a batch did to the campaign's progress. */
export interface StoredBatch {
  progress: Progress;
  /** This batch brought `done` up to `total`. */
  reachedTotal: boolean;
}

/** One submission that took effect for an image: who sent it, when it was committed, and its objects. */
export interface HistoryEntry {
  submittedBy: string;
  submittedAt: string;
  objects: StoredObject[];
}

/** A batch of prepared entries, stamped now: its commit time, and an id that sorts by it and names its rows. */
export function newLabelBatch(campaignId: number, submittedBy: string, entries: LabelBatch["entries"]): LabelBatch {
  const committedAt = contractTimestamp();
  return { campaignId, batchId: `${committedAt}_${randomBytes(4).toString("hex")}`, committedAt, submittedBy, entries };
}

const batchKey = (batchId: string) => `batch!${batchId}`;
const historyPrefix = (imageId: number) => `sub!${pad(imageId)}!`;
const historyKey = (imageId: number, batchId: string) => `${historyPrefix(imageId)}${batchId}`;

/**
 * Label batches in a campaign's partition, stored all-or-nothing.
 *
 * Rows: each image's history row `sub!<image>!<batch>` (the batch's objects for that image), the batch
 * row `batch!<batch>` (its state: committed, applied or aborted), the image rows, which carry the
 * current labels plus `labelsBatch`/`labelsAt` (which batch they came from), and for a staged batch a
 * `counted!<batch>!<first id>` row per applied chunk (its submissions are in the statistics: see apply).
 *
 * A batch that fits one entity-group transaction is written in one: history rows, image rows and the
 * batch row (`applied`) at once. A larger one is staged, then committed, then applied:
 *   1. stage: the history rows are written; readers ignore history rows whose batch is not committed;
 *   2. commit: the batch row is created `committed` — the single write that makes the batch take effect;
 *   3. apply: the image rows are updated chunk by chunk, then the batch row becomes `applied`.
 * The check job queued before step 1 settles the batch later whatever happened to the request: a batch
 * with no batch row is aborted (created `aborted`, so a late commit fails), a committed one is applied.
 * Applying is idempotent and ordered: an image row that already holds this batch, or a newer one, is
 * left alone. So no reader sees part of a batch that does not take effect, and one that took effect
 * always completes.
 */
export class LabelBatchStore {
  constructor(
    private readonly data: TableClient,
    private readonly campaigns: CampaignStore,
  ) {}

  /**
   * Stores the batch and answers the campaign's progress after it. `known` is the image state the caller
   * validated against (ETags included), which saves reading the rows again unless a concurrent write
   * changed them. Throws BatchAbortedError when the batch's check job aborted it first.
   */
  async store(batch: LabelBatch, known: ReadonlyMap<number, CampaignImage>): Promise<StoredBatch> {
    const home = this.home(
      batch.campaignId,
      batch.entries.map((e) => e.imageId),
    );
    const history = batch.entries.map((entry): TransactionAction => ["upsert", this.historyEntity(batch, home, entry.imageId, entry.objects), "Replace"]);
    // What one transaction would hold: history, image rows, the batch row and the count row.
    const whole: TransactionAction[] = [
      ...history,
      ...batch.entries.map((e): TransactionAction => [
        "update",
        {
          partitionKey: this.campaigns.imagePartition(batch.campaignId, e.imageId),
          rowKey: this.campaigns.imageRowKey(e.imageId),
          ...this.labelFields(batch, e.objects, known.get(e.imageId)!),
        },
        "Merge",
      ]),
      ["create", this.batchEntity(batch, home, "applied")],
      ...[...groupByCountRow(batch.entries.map((e) => e.imageId)).keys()].map((group): TransactionAction => [
        "update",
        { partitionKey: home, rowKey: countRowKey(group) },
        "Merge",
      ]),
    ];
    if (planTransactions(whole).length === 1) return this.storeInOne(batch, home, known);
    for (const transaction of planTransactions(history)) await this.data.submitTransaction(transaction);
    await this.commit(batch, home);
    const stored = await this.apply(batch, batch.entries, known);
    await this.data.updateEntity({ partitionKey: home, rowKey: batchKey(batch.batchId), state: "applied" }, "Merge");
    return stored;
  }

  /**
   * Settles a batch after its request: aborts it if it never committed, applies it if it committed but
   * was not applied (the request died), and brings the summary of its buckets up to date. Safe to run
   * any number of times, and beside the request itself.
   */
  async settle(campaignId: number, batchId: string, imageIds: number[]): Promise<BatchState> {
    const home = this.home(campaignId, imageIds);
    const state = await retryOnConflict(`label batch ${batchId}`, async (): Promise<BatchState> => {
      const row = await readRow(this.data, home, batchKey(batchId));
      if (!row) {
        // Creating the row decides the race with a late commit: whichever is first stands.
        await this.data.createEntity({ partitionKey: home, rowKey: batchKey(batchId), state: "aborted" });
        return "aborted";
      }
      const state = row.state as BatchState;
      if (state !== "committed") return state;
      const batch: LabelBatch = { campaignId, batchId, committedAt: String(row.committedAt), submittedBy: String(row.submittedBy), entries: [] };
      const staged = await mapLimit(imageIds, 16, (imageId) =>
        readRow(this.data, this.campaigns.imagePartition(campaignId, imageId), historyKey(imageId, batchId)),
      );
      batch.entries = staged.flatMap((r, i) => (r ? [{ imageId: imageIds[i]!, objects: fromJsonColumns<StoredObject[]>(r, "objects", []) }] : []));
      await this.apply(batch, batch.entries, new Map());
      await this.data.updateEntity({ partitionKey: home, rowKey: batchKey(batchId), state: "applied" }, "Merge");
      return "applied";
    });
    if (state === "aborted") await this.removeStaged(campaignId, batchId, imageIds);
    return state;
  }

  /** Every submission for an image that took effect, oldest first. */
  async history(campaignId: number, imageId: number): Promise<HistoryEntry[]> {
    const rows = await queryAll(this.data, rowPrefix(this.campaigns.imagePartition(campaignId, imageId), historyPrefix(imageId)));
    // Staged rows of batches that never committed (or not yet) are not history.
    const batches = [...new Map(rows.filter((r) => typeof r.batch === "string").map((r) => [String(r.batch), String(r.batchIn)])).entries()];
    const states = new Map(await mapLimit(batches, 8, async ([batch, home]) => [batch, (await readRow(this.data, home, batchKey(batch)))?.state] as const));
    return rows
      .filter((row) => typeof row.batch !== "string" || states.get(row.batch) === "committed" || states.get(row.batch) === "applied")
      .map((row) => ({
        submittedBy: String(row.submittedBy),
        submittedAt: String(row.submittedAt),
        objects: fromJsonColumns<StoredObject[]>(row, "objects", []),
      }));
  }

  private async storeInOne(batch: LabelBatch, home: string, known: ReadonlyMap<number, CampaignImage>): Promise<StoredBatch> {
    const ids = batch.entries.map((e) => e.imageId);
    const counts = await retryOnConflict(`labels of campaign ${batch.campaignId}`, async (attempt) => {
      if (attempt > 0) {
        const row = await readRow(this.data, home, batchKey(batch.batchId));
        if (row?.state === "applied") return undefined; // an earlier try went through after all
        if (row?.state === "aborted") throw new BatchAbortedError(batch.batchId);
      }
      const state = await this.readState(batch.campaignId, ids, attempt === 0 ? known : undefined);
      const changes = batch.entries.flatMap((entry) => {
        const image = state.images.get(entry.imageId);
        if (!image) throw new ConcurrencyError(`image ${entry.imageId} of campaign ${batch.campaignId}`);
        return takesLabels(image, batch) ? [{ image, fields: this.labelFields(batch, entry.objects, image) }] : [];
      });
      const extra: TransactionAction[] = [
        ...batch.entries.map((entry): TransactionAction => ["upsert", this.historyEntity(batch, home, entry.imageId, entry.objects), "Replace"]),
        ["create", this.batchEntity(batch, home, "applied")],
      ];
      // The batch row's create makes this transaction happen once, so its submissions are counted once.
      return this.campaigns.writeImages(batch.campaignId, state.countRows, changes, extra, submissionTallies(batch, batch.entries));
    });
    return this.campaigns.recordCounts(batch.campaignId, counts?.before ?? new Map(), counts?.after ?? new Map());
  }

  /** Images and their groups' count rows: read anew, or (on a first try) the images the caller validated with. */
  private async readState(campaignId: number, ids: number[], known?: ReadonlyMap<number, CampaignImage>) {
    if (known && ids.every((id) => known.has(id))) {
      const set = this.campaigns.images(campaignId);
      const groups = [...groupByCountRow(ids).keys()];
      const rows = await Promise.all(groups.map((group) => set.countRow(group)));
      return { countRows: new Map(groups.flatMap((group, i) => (rows[i] ? [[group, rows[i]] as const] : []))), images: known };
    }
    return this.campaigns.readImages(campaignId, ids);
  }

  /** The commit point: the batch row, created once. */
  private async commit(batch: LabelBatch, home: string): Promise<void> {
    try {
      await this.data.createEntity(this.batchEntity(batch, home, "committed"));
    } catch (error) {
      if (!isConflict(error)) throw error;
      const row = await readRow(this.data, home, batchKey(batch.batchId));
      if (row?.state === "aborted") throw new BatchAbortedError(batch.batchId);
    }
  }

  /**
   * Updates the image rows of a committed batch: a transaction per group of 100 ids with the group's count
   * row, each under ETags and retried alone when it loses a race; images holding this or a newer batch
   * are left. Then the summary takes the groups' counts. The chunk's submissions are counted in the same
   * transaction as a marker row `counted!<batch>!<first id>` is created, so a chunk applied again (the check
   * job beside the request, a duplicate message) counts nothing, and one whose images a newer batch took
   * first still counts (its submissions took effect; the history shows them).
   */
  private async apply(batch: LabelBatch, entries: LabelBatch["entries"], known: ReadonlyMap<number, CampaignImage>): Promise<StoredBatch> {
    const objects = new Map(entries.map((e) => [e.imageId, e.objects]));
    // A chunk's transaction holds its images, their count row and the chunk's counted marker.
    const results = await mapLimit(countRowChunks(objects.keys(), 1), 4, (chunk) =>
      retryOnConflict(`labels of campaign ${batch.campaignId}`, async (attempt) => {
        const marker = { partitionKey: this.campaigns.imagePartition(batch.campaignId, chunk[0]!), rowKey: `counted!${batch.batchId}!${pad(chunk[0]!)}` };
        const [state, counted] = await Promise.all([
          this.readState(batch.campaignId, chunk, attempt === 0 ? known : undefined),
          readRow(this.data, marker.partitionKey, marker.rowKey),
        ]);
        const changes = chunk.flatMap((id) => {
          const image = state.images.get(id);
          return image && takesLabels(image, batch) ? [{ image, fields: this.labelFields(batch, objects.get(id)!, image) }] : [];
        });
        const entries = chunk.map((imageId) => ({ imageId, objects: objects.get(imageId)! }));
        const tallies = counted ? undefined : submissionTallies(batch, entries);
        const extra: TransactionAction[] = counted ? [] : [["create", { ...marker, images: chunk.length }]];
        return this.campaigns.writeImages(batch.campaignId, state.countRows, changes, extra, tallies);
      }),
    );
    const before = oldestCounts(results.map((r) => r.before));
    const after = newestCounts(results.map((r) => r.after));
    return this.campaigns.recordCounts(batch.campaignId, before, after);
  }

  /** An image row's fields once it holds a batch's labels. */
  private labelFields(batch: LabelBatch, objects: StoredObject[], image: CampaignImage): Record<string, unknown> {
    return {
      imageId: image.imageId,
      ...toJsonColumns("objects", objects),
      labelStatus: "user_complete",
      submittedBy: batch.submittedBy,
      firstLabeledAt: image.firstLabeledAt ?? batch.committedAt,
      lastActivityAt: batch.committedAt,
      reviewComment: "",
      labelsBatch: batch.batchId,
    };
  }

  private historyEntity(batch: LabelBatch, home: string, imageId: number, objects: StoredObject[]) {
    return {
      partitionKey: this.campaigns.imagePartition(batch.campaignId, imageId),
      rowKey: historyKey(imageId, batch.batchId),
      imageId,
      batch: batch.batchId,
      batchIn: home,
      submittedBy: batch.submittedBy,
      submittedAt: batch.committedAt,
      ...toJsonColumns("objects", objects),
    };
  }

  private batchEntity(batch: LabelBatch, home: string, state: BatchState) {
    return {
      partitionKey: home,
      rowKey: batchKey(batch.batchId),
      state,
      submittedBy: batch.submittedBy,
      committedAt: batch.committedAt,
      images: batch.entries.length,
    };
  }

  /**
   * Where a batch's row lives: the partition of its lowest image id. A batch within one bucket is then
   * written in one transaction with its row; the request and the check job find it from the ids alone.
   */
  private home(campaignId: number, imageIds: number[]): string {
    return this.campaigns.imagePartition(campaignId, Math.min(...imageIds));
  }

  /** Staged rows of an aborted batch are never read; removing them just keeps the partition tidy. */
  private async removeStaged(campaignId: number, batchId: string, imageIds: number[]): Promise<void> {
    await mapLimit(imageIds, 16, async (imageId) => {
      try {
        await this.data.deleteEntity(this.campaigns.imagePartition(campaignId, imageId), historyKey(imageId, batchId));
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    });
  }
}

/**
 * A batch's submissions per count row (group of 100 ids), for the statistics counted with the transaction
 * that makes the batch take effect there (see domain/campaignStats.ts).
 */
function submissionTallies(batch: LabelBatch, entries: LabelBatch["entries"]): Map<number, Tally> {
  const byGroup = new Map<number, number[]>();
  for (const entry of entries) {
    const group = groupOf(entry.imageId);
    byGroup.set(group, [...(byGroup.get(group) ?? []), entry.objects.length]);
  }
  return new Map([...byGroup].map(([group, counts]) => [group, submissionTally(batch.committedAt, counts)]));
}

/** Whether an image row should take this batch's labels: not when it holds them already, or holds a newer batch's. */
function takesLabels(image: CampaignImage, batch: LabelBatch): boolean {
  if (image.labelsBatch === batch.batchId) return false;
  return image.labelsBatch === null || image.labelsBatch < batch.batchId;
}
