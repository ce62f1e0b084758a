import type { TableClient, TransactionAction } from "@azure/data-tables";
import { randomBytes } from "node:crypto";
import type { StoredObject } from "../domain/labels.js";
import { contractTimestamp } from "../domain/time.js";
import { ConcurrencyError } from "../errors.js";
import { isTransactionConflict, jitter } from "../storage/denseList.js";
import { fromJsonColumns, toJsonColumns } from "../storage/jsonColumns.js";
import { readRow } from "../storage/rows.js";
import { isConflict, isNotFound, pad } from "../storage/tableErrors.js";
import { fitsOneTransaction, planTransactions } from "../storage/transactions.js";
import { mapLimit } from "../util/concurrency.js";
import { campaignPartition, type CampaignImage, type CampaignStore } from "./campaigns.js";

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

export interface HistoryEntry {
  submittedBy: string;
  submittedAt: string;
  objects: StoredObject[];
}

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
 * row `batch!<batch>` (its state: committed, applied or aborted) and the image rows, which carry the
 * current labels plus `labelsBatch`/`labelsAt` (which batch they came from).
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
   * Stores the batch. `known` is the image state the caller validated against (ETags included), which
   * saves reading the rows again unless a concurrent write changed them. Throws BatchAbortedError when
   * the batch's check job aborted it first.
   */
  async store(batch: LabelBatch, known: ReadonlyMap<number, CampaignImage>): Promise<void> {
    const pk = campaignPartition(batch.campaignId);
    const history = batch.entries.map((entry): TransactionAction => ["upsert", this.historyEntity(batch, entry.imageId, entry.objects), "Replace"]);
    const single = [...history, ...batch.entries.map((e) => this.labelUpdate(batch, e.imageId, e.objects, known.get(e.imageId)!)), ["create", this.batchEntity(batch, "applied")] as TransactionAction];
    if (fitsOneTransaction(single)) {
      await this.storeInOne(batch, known);
      return;
    }
    for (const transaction of planTransactions(history)) await this.data.submitTransaction(transaction);
    await this.commit(batch);
    await this.apply(batch, batch.entries, known);
    await this.data.updateEntity({ partitionKey: pk, rowKey: batchKey(batch.batchId), state: "applied" }, "Merge");
  }

  /**
   * Settles a batch after its request: aborts it if it never committed, applies it if it committed but
   * was not applied (the request died). Returns the final state. Safe to run any number of times, and
   * beside the request itself.
   */
  async settle(campaignId: number, batchId: string, imageIds: number[]): Promise<BatchState> {
    const pk = campaignPartition(campaignId);
    for (let attempt = 0; attempt < 10; attempt++) {
      const row = await this.batchRow(campaignId, batchId);
      if (!row) {
        try {
          await this.data.createEntity({ partitionKey: pk, rowKey: batchKey(batchId), state: "aborted" });
        } catch (error) {
          if (!isConflict(error)) throw error;
          continue; // the request committed meanwhile: read it again
        }
        await this.removeStaged(campaignId, batchId, imageIds);
        return "aborted";
      }
      const state = row.state as BatchState;
      if (state === "aborted") {
        await this.removeStaged(campaignId, batchId, imageIds);
        return state;
      }
      if (state === "applied") return state;
      const batch: LabelBatch = { campaignId, batchId, committedAt: String(row.committedAt), submittedBy: String(row.submittedBy), entries: [] };
      const staged = await mapLimit(imageIds, 16, (imageId) => this.getHistoryRow(campaignId, imageId, batchId));
      batch.entries = staged.flatMap((r, i) => (r ? [{ imageId: imageIds[i]!, objects: fromJsonColumns<StoredObject[]>(r, "objects", []) }] : []));
      await this.apply(batch, batch.entries, new Map());
      await this.data.updateEntity({ partitionKey: pk, rowKey: batchKey(batchId), state: "applied" }, "Merge");
      return "applied";
    }
    throw new ConcurrencyError(`label batch ${batchId}`);
  }

  /** Every submission for an image that took effect, oldest first. */
  async history(campaignId: number, imageId: number): Promise<HistoryEntry[]> {
    const prefix = historyPrefix(imageId);
    const rows: Array<Record<string, unknown>> = [];
    const iterator = this.data.listEntities<Record<string, unknown>>({
      queryOptions: { filter: `PartitionKey eq '${campaignPartition(campaignId)}' and RowKey ge '${prefix}' and RowKey lt '${prefix.slice(0, -1)}"'` },
    });
    for await (const row of iterator) rows.push(row);
    // Staged rows of batches that never committed (or not yet) are not history.
    const batches = [...new Set(rows.map((r) => r.batch).filter((b): b is string => typeof b === "string"))];
    const states = new Map(await mapLimit(batches, 8, async (b) => [b, (await this.batchRow(campaignId, b))?.state] as const));
    return rows
      .filter((row) => typeof row.batch !== "string" || states.get(row.batch) === "committed" || states.get(row.batch) === "applied")
      .map((row) => ({ submittedBy: String(row.submittedBy), submittedAt: String(row.submittedAt), objects: fromJsonColumns<StoredObject[]>(row, "objects", []) }));
  }

  private async storeInOne(batch: LabelBatch, known: ReadonlyMap<number, CampaignImage>): Promise<void> {
    let state = known;
    for (let attempt = 0; ; attempt++) {
      if (attempt >= 30) throw new ConcurrencyError(`labels of campaign ${batch.campaignId}`);
      const actions: TransactionAction[] = [];
      for (const entry of batch.entries) {
        actions.push(["upsert", this.historyEntity(batch, entry.imageId, entry.objects), "Replace"]);
        const image = state.get(entry.imageId);
        if (!image) throw new ConcurrencyError(`image ${entry.imageId} of campaign ${batch.campaignId}`);
        if (takesLabels(image, batch)) actions.push(this.labelUpdate(batch, entry.imageId, entry.objects, image));
      }
      actions.push(["create", this.batchEntity(batch, "applied")]);
      try {
        await this.data.submitTransaction(actions);
        return;
      } catch (error) {
        if (!isTransactionConflict(error)) throw error;
        const row = await this.batchRow(batch.campaignId, batch.batchId);
        if (row?.state === "applied") return; // an earlier try went through after all
        if (row?.state === "aborted") throw new BatchAbortedError(batch.batchId);
        state = await this.campaigns.getImages(batch.campaignId, batch.entries.map((e) => e.imageId));
        await jitter(attempt);
      }
    }
  }

  /** The commit point: the batch row, created once. */
  private async commit(batch: LabelBatch): Promise<void> {
    try {
      await this.data.createEntity(this.batchEntity(batch, "committed"));
    } catch (error) {
      if (!isConflict(error)) throw error;
      const row = await this.batchRow(batch.campaignId, batch.batchId);
      if (row?.state === "aborted") throw new BatchAbortedError(batch.batchId);
    }
  }

  /** Updates the image rows of a committed batch, chunk by chunk under ETags; images holding this or a newer batch are left. */
  private async apply(batch: LabelBatch, entries: LabelBatch["entries"], known: ReadonlyMap<number, CampaignImage>): Promise<void> {
    let pending = entries;
    let state = known;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt >= 30) throw new ConcurrencyError(`labels of campaign ${batch.campaignId}`);
      if (pending.some((e) => !state.has(e.imageId))) state = await this.campaigns.getImages(batch.campaignId, pending.map((e) => e.imageId));
      const actions = pending.flatMap((e) => {
        const image = state.get(e.imageId);
        return image && takesLabels(image, batch) ? [this.labelUpdate(batch, e.imageId, e.objects, image)] : [];
      });
      const failed = new Set<number>();
      for (const transaction of planTransactions(actions)) {
        try {
          await this.data.submitTransaction(transaction);
        } catch (error) {
          if (!isTransactionConflict(error)) throw error;
          for (const action of transaction) failed.add(Number((action[1] as Record<string, unknown>).imageId));
        }
      }
      pending = pending.filter((e) => failed.has(e.imageId));
      if (pending.length) {
        state = new Map();
        await jitter(attempt);
      }
    }
  }

  private labelUpdate(batch: LabelBatch, imageId: number, objects: StoredObject[], image: CampaignImage): TransactionAction {
    return [
      "update",
      {
        partitionKey: campaignPartition(batch.campaignId),
        rowKey: this.campaigns.imageRowKey(batch.campaignId, imageId),
        imageId,
        ...toJsonColumns("objects", objects),
        labelStatus: "user_complete",
        submittedBy: batch.submittedBy,
        firstLabeledAt: image.firstLabeledAt ?? batch.committedAt,
        lastActivityAt: batch.committedAt,
        reviewComment: "",
        labelsBatch: batch.batchId,
        labelsAt: batch.committedAt,
      },
      "Merge",
      { etag: image.etag },
    ];
  }

  private historyEntity(batch: LabelBatch, imageId: number, objects: StoredObject[]) {
    return {
      partitionKey: campaignPartition(batch.campaignId),
      rowKey: historyKey(imageId, batch.batchId),
      imageId,
      batch: batch.batchId,
      submittedBy: batch.submittedBy,
      submittedAt: batch.committedAt,
      ...toJsonColumns("objects", objects),
    };
  }

  private batchEntity(batch: LabelBatch, state: BatchState) {
    return {
      partitionKey: campaignPartition(batch.campaignId),
      rowKey: batchKey(batch.batchId),
      state,
      submittedBy: batch.submittedBy,
      committedAt: batch.committedAt,
      images: batch.entries.length,
    };
  }

  private async batchRow(campaignId: number, batchId: string): Promise<Record<string, unknown> | undefined> {
    return this.getRow(campaignId, batchKey(batchId));
  }

  private async getHistoryRow(campaignId: number, imageId: number, batchId: string): Promise<Record<string, unknown> | undefined> {
    return this.getRow(campaignId, historyKey(imageId, batchId));
  }

  private getRow(campaignId: number, rowKey: string): Promise<Record<string, unknown> | undefined> {
    return readRow(this.data, campaignPartition(campaignId), rowKey);
  }

  /** Staged rows of an aborted batch are never read; removing them just keeps the partition tidy. */
  private async removeStaged(campaignId: number, batchId: string, imageIds: number[]): Promise<void> {
    await mapLimit(imageIds, 16, async (imageId) => {
      try {
        await this.data.deleteEntity(campaignPartition(campaignId), historyKey(imageId, batchId));
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    });
  }
}

/** Whether an image row should take this batch's labels: not when it holds them already, or holds a newer batch's. */
function takesLabels(image: CampaignImage, batch: LabelBatch): boolean {
  if (image.labelsBatch === batch.batchId) return false;
  return image.labelsBatch === null || image.labelsBatch < batch.batchId;
}
