import type { TableClient, TransactionAction } from "@azure/data-tables";
import type { CampaignStatus } from "../domain/campaigns.js";
import { countsAsDone, type LabelStatus, type StoredObject } from "../domain/labels.js";
import { ConcurrencyError } from "../errors.js";
import { DenseList, type Row, isTransactionConflict, jitter } from "../storage/denseList.js";
import { fromJsonColumns, toJsonColumns } from "../storage/jsonColumns.js";
import { planTransactions } from "../storage/transactions.js";
import { readRow } from "../storage/rows.js";
import { isConflict, pad } from "../storage/tableErrors.js";
import type { ImageRecord } from "./images.js";
import { mapLimit } from "../util/concurrency.js";
import { idRuns, inRanges, mergeRanges } from "../util/idRanges.js";

export interface CampaignRecord {
  campaignId: number;
  title: string;
  status: CampaignStatus;
  metadata: Record<string, unknown> | null;
  labelTranslations: Record<string, string> | null;
  createdBy: string;
  labelerEmail: string;
  labelerApikey: string;
  dateCreated: string;
  dateStarted: string | null;
  dateCompleted: string | null;
  dateFinished: string | null;
  finishError: string | null;
  /** What the finishing job wrote or could not do (e.g. no Azure ML workspace configured). */
  finishNotes: string[];
  etag: string;
}

export type CampaignChange = Partial<
  Pick<CampaignRecord, "status" | "dateStarted" | "dateCompleted" | "dateFinished" | "finishError" | "finishNotes">
>;

/** One image's state inside a campaign (the key row of the campaign's image list). */
export interface CampaignImage {
  imageId: number;
  blobPath: string;
  width: number;
  height: number;
  filetype: string;
  labelStatus: LabelStatus;
  testData: boolean;
  /** Whether this image is in the campaign's `done` count; only the progress worker changes it. */
  counted: boolean;
  objects: StoredObject[];
  submittedBy: string | null;
  firstLabeledAt: string | null;
  lastActivityAt: string | null;
  reviewComment: string | null;
  /** The label batch whose objects the row holds (batch ids sort by time), or null before the first submission. */
  labelsBatch: string | null;
  etag: string;
}

export interface Progress {
  done: number;
  total: number;
}

export interface ImageFilter {
  labelStatus?: LabelStatus[];
  testData?: boolean;
}

const CAMPAIGN_PK = "campaigns";
/** The partition of `campaignData` that holds one campaign's images, labels, history and label batches. */
export const campaignPartition = (campaignId: number) => `campaign!${pad(campaignId)}`;
const partitionOf = campaignPartition;
/** The row holding the id ranges of a campaign's images (see `CampaignStore.findImages`). */
const MEMBERS_ROW = "img!ranges";
/** Ranges kept in that row; beyond it, the closest ones merge (a superset stays correct: it only screens). */
const MAX_MEMBER_RANGES = 2000;

function optionalString(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}

function toCampaign(row: Row, campaignId: number): CampaignRecord {
  const parse = <T>(value: unknown): T | null => (typeof value === "string" && value ? (JSON.parse(value) as T) : null);
  return {
    campaignId,
    title: String(row.title),
    status: row.status as CampaignStatus,
    metadata: parse(row.metadata),
    labelTranslations: parse(row.labelTranslations),
    createdBy: String(row.createdBy),
    labelerEmail: String(row.labelerEmail),
    labelerApikey: String(row.labelerApikey),
    dateCreated: String(row.dateCreated),
    dateStarted: optionalString(row.dateStarted),
    dateCompleted: optionalString(row.dateCompleted),
    dateFinished: optionalString(row.dateFinished),
    finishError: optionalString(row.finishError),
    finishNotes: parse<string[]>(row.finishNotes) ?? [],
    etag: String(row.etag),
  };
}

export function toCampaignImage(row: Record<string, unknown>): CampaignImage {
  return {
    imageId: Number(row.imageId),
    blobPath: String(row.blobPath),
    width: Number(row.width),
    height: Number(row.height),
    filetype: String(row.filetype ?? ""),
    labelStatus: (row.labelStatus as LabelStatus) ?? "unlabeled",
    testData: row.testData === true,
    counted: row.counted === true,
    objects: fromJsonColumns<StoredObject[]>(row, "objects", []),
    submittedBy: optionalString(row.submittedBy),
    firstLabeledAt: optionalString(row.firstLabeledAt),
    lastActivityAt: optionalString(row.lastActivityAt),
    reviewComment: optionalString(row.reviewComment),
    labelsBatch: optionalString(row.labelsBatch),
    etag: String(row.etag ?? ""),
  };
}

/** OData filter on a campaign's image rows for a review filter. */
export function imageFilterExpression(filter: ImageFilter): string | undefined {
  const parts: string[] = [];
  if (filter.labelStatus?.length) parts.push(`(${filter.labelStatus.map((s) => `labelStatus eq '${s}'`).join(" or ")})`);
  if (filter.testData !== undefined) parts.push(`testData eq ${filter.testData}`);
  return parts.length ? parts.join(" and ") : undefined;
}

/**
 * Campaigns in the `records` table (a dense list keyed by title), and each campaign's partition in
 * `campaignData`: its image list (whose count row also holds `done`, so progress and membership change
 * in one transaction), each image's current label state, and every submission ever made (history).
 */
export class CampaignStore {
  private readonly list: DenseList;

  constructor(
    private readonly records: TableClient,
    private readonly data: TableClient,
  ) {
    this.list = new DenseList(records, CAMPAIGN_PK, "cmp");
  }

  imageList(campaignId: number): DenseList {
    return new DenseList(this.data, partitionOf(campaignId), "img");
  }

  async create(fields: Omit<CampaignRecord, "campaignId" | "etag" | "finishNotes">): Promise<CampaignRecord | undefined> {
    const { metadata, labelTranslations, ...rest } = fields;
    const [result] = await this.list.append([
      {
        key: fields.title,
        item: {
          ...Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, v ?? ""])),
          metadata: metadata ? JSON.stringify(metadata) : "",
          labelTranslations: labelTranslations ? JSON.stringify(labelTranslations) : "",
        },
      },
    ]);
    if (!result?.created) return undefined;
    return this.get(result.pos + 1);
  }

  async findIdByTitle(title: string): Promise<number | undefined> {
    const row = await this.list.getByKey(title);
    return row ? Number(row.pos) + 1 : undefined;
  }

  async get(campaignId: number): Promise<CampaignRecord | undefined> {
    const row = await this.list.getAt(campaignId - 1);
    return row ? toCampaign(row, campaignId) : undefined;
  }

  async count(): Promise<number> {
    return this.list.count();
  }

  async page(offset: number, limit: number): Promise<CampaignRecord[]> {
    const rows = await this.list.range(offset, limit);
    return rows.map((row, i) => toCampaign(row, offset + i + 1));
  }

  /** Applies `change` under the record's ETag, retrying on concurrent writes; `change` returns null to leave it. */
  async update(campaignId: number, change: (current: CampaignRecord) => CampaignChange | null): Promise<CampaignRecord | undefined> {
    for (let attempt = 0; attempt < 30; attempt++) {
      const current = await this.get(campaignId);
      if (!current) return undefined;
      const fields = change(current);
      if (!fields) return current;
      const { finishNotes, ...rest } = fields;
      const entity: Record<string, unknown> = { ...Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, v ?? ""])) };
      if (finishNotes) entity.finishNotes = JSON.stringify(finishNotes);
      try {
        await this.records.updateEntity({ partitionKey: CAMPAIGN_PK, rowKey: this.list.posKey(campaignId - 1), ...entity }, "Merge", {
          etag: current.etag,
        });
        return this.get(campaignId);
      } catch (error) {
        if (!isConflict(error)) throw error;
        await jitter(attempt);
      }
    }
    throw new ConcurrencyError(`campaign ${campaignId}`);
  }

  async progress(campaignId: number): Promise<Progress> {
    const row = await this.imageList(campaignId).getCountRow();
    return { done: Number(row?.done ?? 0), total: Number(row?.count ?? 0) };
  }

  /** Adds images (an image already in the campaign is not added or counted twice); returns how many were new. */
  async addImages(campaignId: number, images: ImageRecord[]): Promise<number> {
    // The id ranges grow first: a crash after it leaves a superset, which only costs a look-up later.
    await this.widenMemberRanges(campaignId, images.map((i) => i.imageId));
    // Present ones are found with range reads; the rest are appended without a look-up each (a race
    // still fails the transaction, and the retry looks them up).
    const present = await this.getImages(campaignId, images.map((i) => i.imageId));
    const fresh = images.filter((image) => !present.has(image.imageId));
    const appended = await this.imageList(campaignId).append(
      fresh.map((image) => ({
        key: pad(image.imageId),
        item: { imageId: image.imageId },
        state: {
          imageId: image.imageId,
          blobPath: image.blobPath,
          width: image.width,
          height: image.height,
          filetype: image.filetype,
          labelStatus: "unlabeled",
          testData: false,
          counted: false,
        },
      })),
      {},
      true,
    );
    await this.indexImages(campaignId, images.map((i) => i.imageId));
    return appended.filter((a) => a.created).length;
  }

  /** Adds ids to the campaign's member ranges (one row, under its ETag). */
  private async widenMemberRanges(campaignId: number, imageIds: number[]): Promise<void> {
    for (let attempt = 0; attempt < 30; attempt++) {
      const row = await this.getRow(MEMBERS_ROW, campaignId);
      const ranges = mergeRanges(MAX_MEMBER_RANGES, [...(row ? fromJsonColumns<Array<[number, number]>>(row, "ranges", []) : []), ...imageIds.map((id): [number, number] => [id, id])]);
      const entity = { partitionKey: partitionOf(campaignId), rowKey: MEMBERS_ROW, ...toJsonColumns("ranges", ranges) };
      try {
        if (row) await this.data.updateEntity(entity, "Merge", { etag: String(row.etag) });
        else await this.data.createEntity(entity);
        return;
      } catch (error) {
        if (!isConflict(error)) throw error;
        await jitter(attempt);
      }
    }
    throw new ConcurrencyError(`image ranges of campaign ${campaignId}`);
  }

  /**
   * The reverse index (image -> campaigns) for `GET /images/{id}/objects`: rows `<image>!<campaign>` in
   * partitions of 1,000 image ids, so adding many images is a few transactions, not an upsert each.
   */
  private async indexImages(campaignId: number, imageIds: number[]): Promise<void> {
    const byBucket = new Map<number, number[]>();
    for (const id of new Set(imageIds)) byBucket.set(Math.floor(id / 1000), [...(byBucket.get(Math.floor(id / 1000)) ?? []), id]);
    const batches = [...byBucket].flatMap(([bucket, ids]) =>
      Array.from({ length: Math.ceil(ids.length / 100) }, (_, i) => ({ bucket, ids: ids.slice(i * 100, (i + 1) * 100) })),
    );
    await mapLimit(batches, 8, ({ bucket, ids }) =>
      this.records.submitTransaction(
        ids.map((id): TransactionAction => ["upsert", { partitionKey: `imagecampaigns!${pad(bucket)}`, rowKey: `${pad(id)}!${pad(campaignId)}`, campaignId }, "Replace"]),
      ),
    );
  }

  async campaignsOfImage(imageId: number): Promise<number[]> {
    const ids: number[] = [];
    const iterator = this.records.listEntities<{ campaignId: number }>({
      queryOptions: {
        filter: `PartitionKey eq 'imagecampaigns!${pad(Math.floor(imageId / 1000))}' and RowKey ge '${pad(imageId)}!' and RowKey lt '${pad(imageId)}"'`,
      },
    });
    for await (const row of iterator) ids.push(Number(row.campaignId));
    return ids;
  }

  /** The row key of an image's row in the campaign's partition. */
  imageRowKey(campaignId: number, imageId: number): string {
    return this.imageList(campaignId).keyKey(pad(imageId));
  }

  async getImage(campaignId: number, imageId: number): Promise<CampaignImage | undefined> {
    const row = await this.imageList(campaignId).getByKey(pad(imageId));
    return row ? toCampaignImage(row) : undefined;
  }

  /**
   * Images by id, for ids that come from outside (a partner's batch, a review): ids outside the
   * campaign's member ranges are dropped without a read, so what a request costs is bounded by the
   * campaign's own layout, not by how many stray ids it names.
   */
  async findImages(campaignId: number, imageIds: number[]): Promise<Map<number, CampaignImage>> {
    const row = await this.getRow(MEMBERS_ROW, campaignId);
    // No ranges row: a campaign seeded some other way (or with no images yet); look every id up.
    if (!row) return (await this.imageList(campaignId).getCountRow()) ? this.getImages(campaignId, imageIds) : new Map();
    const ranges = fromJsonColumns<Array<[number, number]>>(row, "ranges", []);
    return this.getImages(campaignId, imageIds.filter((id) => inRanges(ranges, id)));
  }

  /** Images by id: runs of near-consecutive ids are one range read each, the rest point reads, a bounded number at a time. */
  async getImages(campaignId: number, imageIds: number[]): Promise<Map<number, CampaignImage>> {
    const wanted = new Set(imageIds);
    const found = new Map<number, CampaignImage>();
    const list = this.imageList(campaignId);
    await mapLimit(idRuns([...wanted]), 16, async ([from, to]) => {
      if (from === to) {
        const image = await this.getImage(campaignId, from);
        if (image) found.set(from, image);
        return;
      }
      const iterator = this.data.listEntities<Record<string, unknown>>({
        queryOptions: { filter: `PartitionKey eq '${partitionOf(campaignId)}' and RowKey ge '${list.keyKey(pad(from))}' and RowKey le '${list.keyKey(pad(to))}'` },
      });
      for await (const page of iterator.byPage({ maxPageSize: 1000 })) {
        for (const row of page) {
          const image = toCampaignImage(row);
          if (wanted.has(image.imageId)) found.set(image.imageId, image);
        }
      }
    });
    return found;
  }

  /** Image ids at positions [offset, offset + limit) of the campaign, in the order they were added. */
  async imageIdPage(campaignId: number, offset: number, limit: number): Promise<number[]> {
    const rows = await this.imageList(campaignId).range(offset, limit);
    return rows.map((row) => Number(row.imageId));
  }

  /** Every image row matching the filter, page by page in image-id order. */
  async *scanImages(campaignId: number, filter: ImageFilter = {}, select?: string[]): AsyncIterable<CampaignImage[]> {
    for await (const rows of this.imageList(campaignId).keyRows(imageFilterExpression(filter), select)) {
      yield rows.map(toCampaignImage);
    }
  }

  /** A filtered page: total and the page's rows, found by one scan of the campaign's image rows. */
  async filteredPage(campaignId: number, filter: ImageFilter, offset: number, limit: number): Promise<{ total: number; images: CampaignImage[] }> {
    let total = 0;
    const images: CampaignImage[] = [];
    for await (const rows of this.imageList(campaignId).keyRows(imageFilterExpression(filter))) {
      for (const row of rows) {
        if (total >= offset && images.length < limit) images.push(toCampaignImage(row));
        total++;
      }
    }
    return { total, images };
  }

  /**
   * Changes review fields of images under their ETags, up to 100 images per transaction (so a request of
   * at most 100 images changes all of them or none). `change` sees each image's current state and
   * returns the fields to set, or null to leave it. Returns the ids that changed.
   */
  async updateImages(
    campaignId: number,
    imageIds: number[],
    change: (image: CampaignImage) => Record<string, unknown> | null,
  ): Promise<number[]> {
    const pk = partitionOf(campaignId);
    const changed: number[] = [];
    const ids = [...new Set(imageIds)];
    for (let start = 0; start < ids.length; start += 100) {
      const chunk = ids.slice(start, start + 100);
      for (let attempt = 0; ; attempt++) {
        if (attempt >= 30) throw new ConcurrencyError(`images of campaign ${campaignId}`);
        const images = await this.getImages(campaignId, chunk);
        const updates = [...images.values()].flatMap((image) => {
          const fields = change(image);
          return fields ? [{ image, fields }] : [];
        });
        if (updates.length === 0) break;
        const actions = updates.map(({ image, fields }): TransactionAction => [
          "update",
          { partitionKey: pk, rowKey: this.imageRowKey(campaignId, image.imageId), ...fields },
          "Merge",
          { etag: image.etag },
        ]);
        try {
          for (const transaction of planTransactions(actions)) await this.data.submitTransaction(transaction);
          changed.push(...updates.map((u) => u.image.imageId));
          break;
        } catch (error) {
          if (!isTransactionConflict(error)) throw error;
          await jitter(attempt);
        }
      }
    }
    return changed;
  }

  /**
   * Brings images' contribution to `done` in line with their label status: counted when the partner's
   * labels stand (user_complete or admin_complete). State-based, so duplicate and re-ordered messages
   * converge; the image rows and the count row change in one transaction (up to 99 images), so the
   * count is exact and one batch costs one transaction. `reachedTotal` says this call raised `done` to `total`.
   */
  async reconcileProgress(campaignId: number, imageIds: number[]): Promise<{ progress: Progress; reachedTotal: boolean }> {
    const pk = partitionOf(campaignId);
    const list = this.imageList(campaignId);
    let progress: Progress = { done: 0, total: 0 };
    let reachedTotal = false;
    for (let start = 0; start < imageIds.length; start += 99) {
      const chunk = [...new Set(imageIds.slice(start, start + 99))];
      for (let attempt = 0; ; attempt++) {
        if (attempt >= 50) throw new ConcurrencyError(`progress of campaign ${campaignId}`);
        const [images, countRow] = await Promise.all([this.getImages(campaignId, chunk), list.getCountRow()]);
        progress = { done: Number(countRow?.done ?? 0), total: Number(countRow?.count ?? 0) };
        const changes = [...images.values()].flatMap((image) => {
          const shouldCount = countsAsDone(image.labelStatus);
          return image.counted === shouldCount ? [] : [{ image, shouldCount }];
        });
        if (!countRow || changes.length === 0) break;
        const delta = changes.reduce((sum, c) => sum + (c.shouldCount ? 1 : -1), 0);
        const actions: TransactionAction[] = changes.map(({ image, shouldCount }) => [
          "update",
          { partitionKey: pk, rowKey: list.keyKey(pad(image.imageId)), counted: shouldCount },
          "Merge",
          { etag: image.etag },
        ]);
        actions.push(["update", { partitionKey: pk, rowKey: String(countRow.rowKey), done: progress.done + delta }, "Merge", { etag: String(countRow.etag) }]);
        try {
          await this.data.submitTransaction(actions);
          progress = { done: progress.done + delta, total: progress.total };
          if (delta > 0 && progress.done === progress.total) reachedTotal = true;
          break;
        } catch (error) {
          if (!isTransactionConflict(error)) throw error;
          await jitter(attempt);
        }
      }
    }
    return { progress, reachedTotal };
  }

  private getRow(rowKey: string, campaignId: number): Promise<Record<string, unknown> | undefined> {
    return readRow(this.data, partitionOf(campaignId), rowKey);
  }
}
