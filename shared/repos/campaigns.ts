import { odata, type TableClient, type TransactionAction } from "@azure/data-tables";
import type { CampaignStatus, ImageFilter } from "../domain/campaigns.js";
import type { ExportFilter } from "../domain/exports.js";
import { parseStoredLabelSchema, storedLabelSchema, type LabelClass } from "../domain/labelSchemas.js";
import { countsAsDone, LABEL_STATUSES, type LabelStatus, type StoredObject } from "../domain/labels.js";
import { addTally, reviewTally, type Tally } from "../domain/campaignStats.js";
import {
  BucketBitmap,
  BUCKET_SIZE,
  bucketOf,
  bucketOfGroup,
  BucketedSet,
  countAction,
  countRowChunks,
  countsOf,
  groupByBucket,
  groupByCountRow,
  groupOf,
  newestCounts,
  oldestCounts,
  type BucketCounts,
} from "../storage/buckets.js";
import { DenseList, type Row } from "../storage/denseList.js";
import { fromJsonColumns } from "../storage/jsonColumns.js";
import { queryAll, rowPrefix } from "../storage/queries.js";
import { retryOnConflict } from "../storage/retry.js";
import { pad } from "../storage/tableErrors.js";
import { mapLimit } from "../util/concurrency.js";
import { contractTimestamp } from "../domain/time.js";
import type { ImageRecord } from "./images.js";
import { readRow, stringColumn } from "../storage/rows.js";
import { campaignEventOf } from "../domain/webhooks.js";
import { recordAfter, campaignEventData, newEvent, rejectedImageData } from "../webhooks/events.js";
import { updateWithOutbox, type AnnounceOptions, type Outbox } from "../webhooks/outbox.js";

/** A campaign as stored: dates are contract timestamps (null until reached), `etag` guards updates, `labelerApikey` is its partner's key. */
export interface CampaignRecord {
  campaignId: number;
  title: string;
  status: CampaignStatus;
  metadata: Record<string, unknown> | null;
  labelTranslations: Record<string, string> | null;
  /** The label schema: classes in class-id order, or null for none; fixed once the campaign leaves `created`. */
  labels: LabelClass[] | null;
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

/** The fields a campaign update may set (CampaignStore.update). */
export type CampaignChange = Partial<
  Pick<CampaignRecord, "status" | "dateStarted" | "dateCompleted" | "dateFinished" | "finishError" | "finishNotes" | "labels">
>;

/** One image's state inside a campaign. */
export interface CampaignImage {
  imageId: number;
  blobPath: string;
  width: number;
  height: number;
  filetype: string;
  labelStatus: LabelStatus;
  testData: boolean;
  /** The category (review state and test split) its bucket's counters hold it under; only the progress worker changes it. */
  countedAs: string;
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

export type { ImageFilter } from "../domain/campaigns.js";

const CAMPAIGN_PK = "campaigns";

/**
 * The counter an image is counted under: its review state and test split, e.g. `user_complete_1`. Each
 * bucket counts its images per category, so `done`, `total` and the size of any filtered list are sums.
 */
export const categoryOf = (labelStatus: LabelStatus, testData: boolean) => `${labelStatus}_${testData ? 1 : 0}`;

/** The categories a review filter selects (all when the filter is empty). */
export function categoriesOf(filter: ImageFilter): string[] {
  const statuses = filter.labelStatus?.length ? filter.labelStatus : LABEL_STATUSES;
  const splits = filter.testData === undefined ? [false, true] : [filter.testData];
  return statuses.flatMap((status) => splits.map((test) => categoryOf(status, test)));
}

const DONE_CATEGORIES = LABEL_STATUSES.filter(countsAsDone).flatMap((status) => [categoryOf(status, false), categoryOf(status, true)]);

function sumCounts(summary: Iterable<BucketCounts>, categories?: readonly string[]): number {
  let sum = 0;
  for (const counts of summary) sum += categories ? categories.reduce((n, c) => n + (counts.counters[c] ?? 0), 0) : counts.total;
  return sum;
}

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
    labels: parseStoredLabelSchema(row.labels),
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
    filetype: stringColumn(row, "filetype"),
    labelStatus: (row.labelStatus as LabelStatus) ?? "unlabeled",
    testData: row.testData === true,
    countedAs: stringColumn(row, "countedAs"),
    objects: fromJsonColumns<StoredObject[]>(row, "objects", []),
    submittedBy: optionalString(row.submittedBy),
    firstLabeledAt: optionalString(row.firstLabeledAt),
    lastActivityAt: optionalString(row.lastActivityAt),
    reviewComment: optionalString(row.reviewComment),
    labelsBatch: optionalString(row.labelsBatch),
    etag: stringColumn(row, "etag"),
  };
}

/** OData selection of image rows for a review filter (values quoted by the SDK's `odata` tag). */
function reviewFilter(filter: ImageFilter): string | undefined {
  const parts: string[] = [];
  if (filter.labelStatus?.length) parts.push(`(${filter.labelStatus.map((s) => odata`labelStatus eq ${s}`).join(" or ")})`);
  if (filter.testData !== undefined) parts.push(odata`testData eq ${filter.testData}`);
  return parts.length ? parts.join(" and ") : undefined;
}

/** OData selection of image rows for an export filter (timestamps compare as strings in the contract's format). */
export function exportSelection(filter: ExportFilter): string | undefined {
  const parts: string[] = [];
  const review = reviewFilter({ labelStatus: filter.labelStatus ?? undefined, testData: filter.testData });
  if (review) parts.push(review);
  if (filter.labeledFrom) parts.push(odata`firstLabeledAt ge ${filter.labeledFrom}`);
  if (filter.labeledBefore) parts.push(odata`firstLabeledAt lt ${filter.labeledBefore}`);
  if (filter.activityFrom) parts.push(odata`lastActivityAt ge ${filter.activityFrom}`);
  if (filter.activityBefore) parts.push(odata`lastActivityAt lt ${filter.activityBefore}`);
  return parts.length ? parts.join(" and ") : undefined;
}

/**
 * Campaigns in the `records` table (a dense list keyed by title), and each campaign's images in
 * `campaignData`, spread over one partition per bucket of 1,000 image ids (`campaign!<id>!<bucket>`).
 * A bucket partition holds its images (current labels and review state), their submission history, the
 * label batches that started there, and a count row with the bucket's images per category (review state
 * and test split); `campaign!<id>!meta` holds the summary of all count rows. So `done`, `total` and any
 * filtered count are one read, a page reads the buckets it spans, and every write touches the buckets
 * of the images it names: no cost grows with the campaign.
 */
export class CampaignStore {
  private readonly list: DenseList;

  constructor(
    private readonly records: TableClient,
    readonly data: TableClient,
    /** Where status changes and rejections record their webhook events; none: no events. */
    private readonly outbox?: Outbox,
  ) {
    this.list = new DenseList(records, CAMPAIGN_PK, "cmp");
  }

  /** The campaign's images, bucketed by image id. */
  images(campaignId: number): BucketedSet {
    return new BucketedSet(this.data, `campaign!${pad(campaignId)}`, "img");
  }

  /** The partition of an image's row (and its history) in a campaign. */
  imagePartition(campaignId: number, imageId: number): string {
    return this.images(campaignId).partition(bucketOf(imageId));
  }

  imageRowKey(imageId: number): string {
    return `img!${pad(imageId)}`;
  }

  /** Appends a campaign (undefined when its title is taken); `labels` left out means no label schema. */
  async create(
    fields: Omit<CampaignRecord, "campaignId" | "etag" | "finishNotes" | "labels"> & { labels?: CampaignRecord["labels"] },
  ): Promise<CampaignRecord | undefined> {
    const { metadata, labelTranslations, labels, ...rest } = fields;
    const result = await this.list.append(fields.title, {
      ...Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, v ?? ""])),
      metadata: metadata ? JSON.stringify(metadata) : "",
      labelTranslations: labelTranslations ? JSON.stringify(labelTranslations) : "",
      labels: labels ? storedLabelSchema(labels) : "",
    });
    if (!result.created) return undefined;
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

  /**
   * Completes an active campaign; called when a change just brought `done` up to `total`. A reopened
   * campaign whose counted images are relabeled is not completed again by itself (the admin completes it,
   * as seed 001 describes), since only a change that raised `done` to `total` calls this. Answers whether
   * this call completed it.
   */
  async completeIfActive(campaignId: number): Promise<boolean> {
    let completed = false;
    await this.update(campaignId, (current) => {
      completed = current.status === "active";
      return completed ? { status: "completed", dateCompleted: contractTimestamp() } : null;
    });
    return completed;
  }

  /**
   * Applies `change` under the record's ETag, retrying on concurrent writes; `change` returns null to leave it. A status
   * change a webhook event announces (campaignEventOf) writes the event in the same transaction; a write that keeps the
   * status (a repeated job) announces nothing.
   */
  async update(
    campaignId: number,
    change: (current: CampaignRecord) => CampaignChange | null,
    options: AnnounceOptions = {},
  ): Promise<CampaignRecord | undefined> {
    const recorder = options.announce === false ? undefined : this.outbox?.recorder("records");
    const updated = await retryOnConflict(`campaign ${campaignId}`, async () => {
      const current = await this.get(campaignId);
      if (!current) return undefined;
      const fields = change(current);
      if (!fields) return current;
      const { finishNotes, labels, ...rest } = fields;
      const entity: Record<string, unknown> = { ...Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, v ?? ""])) };
      if (finishNotes) entity.finishNotes = JSON.stringify(finishNotes);
      if (labels !== undefined) entity.labels = labels ? storedLabelSchema(labels) : "";
      const type = fields.status ? campaignEventOf(current.status, fields.status) : undefined;
      const events = type ? [newEvent(type, `campaigns/${campaignId}`, campaignEventData(recordAfter(current, fields), current.status))] : [];
      await updateWithOutbox(this.records, recorder, { partitionKey: CAMPAIGN_PK, rowKey: this.list.posKey(campaignId - 1), ...entity }, current.etag, events);
      return this.get(campaignId);
    });
    await recorder?.flush();
    return updated;
  }

  /** `done` and `total` from the summary of the campaign's buckets (one read). */
  async progress(campaignId: number): Promise<Progress> {
    const summary = (await this.images(campaignId).summary.read()).values();
    const counts = [...summary];
    return { done: sumCounts(counts, DONE_CATEGORIES), total: sumCounts(counts) };
  }

  /**
   * Adds images (an image already in the campaign is not added or counted twice); returns how many were new.
   * Then writes their reverse index (indexImages), unless `options.index` is false: a caller that pipelines
   * large additions writes it itself, always after the images are in the campaign, never before.
   */
  async addImages(campaignId: number, images: ImageRecord[], options: { index?: boolean } = {}): Promise<number> {
    const unlabeled = categoryOf("unlabeled", false);
    const added = await this.images(campaignId).add(
      images.map((image) => ({
        id: image.imageId,
        entity: {
          imageId: image.imageId,
          blobPath: image.blobPath,
          width: image.width,
          height: image.height,
          filetype: image.filetype,
          labelStatus: "unlabeled",
          testData: false,
          countedAs: unlabeled,
        },
      })),
      () => ({ [unlabeled]: 1 }),
    );
    if (options.index !== false)
      await this.indexImages(
        campaignId,
        images.map((i) => i.imageId),
      );
    return added;
  }

  /**
   * The reverse index (image -> campaigns) for `GET /images/{id}/objects` and partners' image access: per
   * bucket of 1,000 image ids, a row per campaign (`imagecampaigns!<bucket>` / `<campaign>`) holding a bitmap
   * of which of the bucket's ids the campaign holds. Adding 1,000 images is one read and one write under the
   * row's ETag, not 1,000 rows; marking is idempotent (bits are only set), so a repeated step changes nothing.
   */
  async indexImages(campaignId: number, imageIds: number[]): Promise<void> {
    await mapLimit([...groupByBucket(imageIds)], 8, ([bucket, ids]) =>
      retryOnConflict(`image index ${bucket} of campaign ${campaignId}`, async () => {
        const partitionKey = `imagecampaigns!${pad(bucket)}`;
        const rowKey = pad(campaignId);
        const row = await readRow(this.records, partitionKey, rowKey);
        const bits = BucketBitmap.decode(stringColumn(row, "images"));
        let changed = false;
        for (const id of ids) changed = bits.set(id - bucket * BUCKET_SIZE) || changed;
        if (!changed) return;
        const entity = { partitionKey, rowKey, campaignId, images: bits.encode() };
        if (row) await this.records.updateEntity(entity, "Replace", { etag: String(row.etag) });
        else await this.records.createEntity(entity);
      }),
    );
  }

  /** The campaigns holding an image: one read of its bucket's index rows (a row per campaign with images there). */
  async campaignsOfImage(imageId: number): Promise<number[]> {
    const bucket = bucketOf(imageId);
    const rows = await queryAll(this.records, rowPrefix(`imagecampaigns!${pad(bucket)}`, ""), ["campaignId", "images"]);
    return rows.filter((row) => BucketBitmap.decode(stringColumn(row, "images")).has(imageId - bucket * BUCKET_SIZE)).map((row) => Number(row.campaignId));
  }

  async getImage(campaignId: number, imageId: number): Promise<CampaignImage | undefined> {
    const row = await this.images(campaignId).get(imageId);
    return row ? toCampaignImage(row) : undefined;
  }

  /** Images by id: one range read per bucket the ids fall in. */
  async getImages(campaignId: number, imageIds: number[]): Promise<Map<number, CampaignImage>> {
    const rows = await this.images(campaignId).getMany(imageIds);
    return new Map([...rows].map(([id, row]) => [id, toCampaignImage(row)]));
  }

  /**
   * Images by id, for ids that come from outside (a partner's batch, a review): ids in buckets the
   * campaign does not have are dropped without a read, so what a request costs is bounded by the
   * campaign's own layout (its buckets), not by how many stray ids it names.
   */
  async findImages(campaignId: number, imageIds: number[]): Promise<Map<number, CampaignImage>> {
    const summary = await this.images(campaignId).summary.read();
    return this.getImages(
      campaignId,
      imageIds.filter((id) => (summary.get(groupOf(id))?.total ?? 0) > 0),
    );
  }

  /** A page of the campaign's images in image-id order, optionally filtered, with the total of the selection. */
  async imagePage(campaignId: number, filter: ImageFilter, offset: number, limit: number): Promise<{ total: number; images: CampaignImage[] }> {
    const filtered = filter.labelStatus?.length || filter.testData !== undefined;
    const { total, rows } = await this.images(campaignId).page(offset, limit, filtered ? categoriesOf(filter) : undefined, reviewFilter(filter));
    return { total, images: rows.map(toCampaignImage) };
  }

  /** Every image row matching the review filter, page by page in image-id order. */
  async *scanImages(campaignId: number, filter: ImageFilter = {}, select?: string[]): AsyncIterable<CampaignImage[]> {
    for await (const rows of this.images(campaignId).scan(reviewFilter(filter), select)) yield rows.map(toCampaignImage);
  }

  /** Every image row an export selects, page by page in image-id order. */
  async *scanForExport(campaignId: number, filter: ExportFilter, select?: string[]): AsyncIterable<CampaignImage[]> {
    for await (const rows of this.images(campaignId).scan(exportSelection(filter), select)) yield rows.map(toCampaignImage);
  }

  /** The count rows of some images' groups and the images, read together (their ETags guard the write that follows). */
  async readImages(campaignId: number, imageIds: number[]): Promise<{ countRows: Map<number, Row>; images: Map<number, CampaignImage> }> {
    const set = this.images(campaignId);
    const groups = [...groupByCountRow(imageIds).keys()];
    const [rows, counts] = await Promise.all([set.getMany(imageIds), Promise.all(groups.map((group) => set.countRow(group)))]);
    const countRows = new Map(groups.flatMap((group, i) => (counts[i] ? [[group, counts[i]] as const] : [])));
    return { countRows, images: new Map([...rows].map(([id, row]) => [id, toCampaignImage(row)])) };
  }

  /**
   * One transaction in one bucket's partition: image rows changed under their ETags, each moved between
   * its group's counters when its review state or test split changes, the count rows of those groups
   * (under their ETags), and `extra` actions in that partition. A lost race throws (409/412) for the
   * caller's retry. Returns the groups' counts before and after.
   */
  async writeImages(
    campaignId: number,
    countRows: ReadonlyMap<number, Row>,
    changes: ReadonlyArray<{ image: CampaignImage; fields: Record<string, unknown> }>,
    extra: TransactionAction[] = [],
    /** Statistics to count per group in this transaction (a label batch's submissions: see domain/campaignStats.ts). */
    tallies: ReadonlyMap<number, Tally> = new Map(),
  ): Promise<{ before: Map<number, BucketCounts>; after: Map<number, BucketCounts> }> {
    const set = this.images(campaignId);
    const before = new Map<number, BucketCounts>();
    const after = new Map<number, BucketCounts>();
    const counting = (group: number): BucketCounts => {
      if (!after.has(group)) {
        const counts = countsOf(countRows.get(group));
        before.set(group, counts);
        after.set(group, { total: counts.total, version: counts.version + 1, counters: { ...counts.counters } });
      }
      return after.get(group)!;
    };
    const actions: TransactionAction[] = changes.map(({ image, fields }) => {
      const category = categoryOf(
        (fields.labelStatus as LabelStatus | undefined) ?? image.labelStatus,
        (fields.testData as boolean | undefined) ?? image.testData,
      );
      if (category !== image.countedAs) {
        const next = counting(groupOf(image.imageId));
        if (image.countedAs) next.counters[image.countedAs] = (next.counters[image.countedAs] ?? 0) - 1;
        next.counters[category] = (next.counters[category] ?? 0) + 1;
      }
      // A review decision is counted with the image change that makes it, so a repeated review counts nothing.
      const decision = reviewTally(image, fields);
      if (decision) addTally(counting(groupOf(image.imageId)).counters, decision);
      return [
        "update",
        { ...fields, partitionKey: set.partition(bucketOf(image.imageId)), rowKey: this.imageRowKey(image.imageId), countedAs: category },
        "Merge",
        { etag: image.etag },
      ];
    });
    for (const [group, tally] of tallies) addTally(counting(group).counters, tally);
    for (const [group, counts] of after) {
      const row = countRows.get(group);
      actions.push(countAction(set.partition(bucketOfGroup(group)), group, counts, row ? String(row.etag) : undefined));
    }
    actions.push(...extra);
    if (actions.length) await this.data.submitTransaction(actions);
    return { before, after };
  }

  /**
   * Takes buckets' new counts into the campaign's summary and answers the progress. `raised` says whether
   * `done` reached `total` with this change, confirmed on the count rows themselves (the summary may lag
   * behind a bucket whose writer died before updating it).
   */
  async recordCounts(
    campaignId: number,
    before: ReadonlyMap<number, BucketCounts>,
    after: ReadonlyMap<number, BucketCounts>,
  ): Promise<{ progress: Progress; reachedTotal: boolean }> {
    const set = this.images(campaignId);
    await set.summary.record(after);
    const summary = await set.summary.read();
    let progress: Progress = { done: sumCounts(summary.values(), DONE_CATEGORIES), total: sumCounts(summary.values()) };
    const raised = sumCounts(after.values(), DONE_CATEGORIES) > sumCounts(before.values(), DONE_CATEGORIES);
    if (!raised || progress.total === 0 || progress.done !== progress.total) return { progress, reachedTotal: false };
    const exact = [...(await set.exactCounts()).values()];
    progress = { done: sumCounts(exact, DONE_CATEGORIES), total: sumCounts(exact) };
    return { progress, reachedTotal: progress.done === progress.total };
  }

  /**
   * Changes review fields of images under their ETags, a transaction per group of 100 ids with the group's
   * count row (so a request within one group changes all of its images or none, and counts stay exact).
   * `change` sees each image's current state and returns the fields to set, or null to leave it. Returns
   * the ids that changed and the progress after.
   */
  async updateImages(
    campaignId: number,
    imageIds: number[],
    change: (image: CampaignImage) => Record<string, unknown> | null,
  ): Promise<{ changed: number[]; progress: Progress; reachedTotal: boolean }> {
    const recorder = this.outbox?.recorder("campaignData");
    // With an outbox, one outbox row (image.rejected) beside each chunk's images and count row.
    const chunks = countRowChunks(imageIds, recorder ? 1 : 0);
    const results = await mapLimit(chunks, 4, (chunk) =>
      retryOnConflict(`images of campaign ${campaignId}`, async () => {
        const { countRows, images } = await this.readImages(campaignId, chunk);
        const changes = [...images.values()].flatMap((image) => {
          const fields = change(image);
          return fields ? [{ image, fields }] : [];
        });
        // A rejection is announced with the change that makes it (so a repeated review announces nothing).
        const rejected = changes
          .filter(({ image, fields }) => fields.labelStatus === "rejected" && image.labelStatus !== "rejected")
          .map(({ image, fields }) =>
            newEvent("image.rejected", `campaigns/${campaignId}/images/${image.imageId}`, rejectedImageData(campaignId, image, fields)),
          );
        const outboxRow = recorder && rejected.length ? await recorder.row(this.imagePartition(campaignId, chunk[0]!), rejected) : undefined;
        return { ids: changes.map((c) => c.image.imageId), ...(await this.writeImages(campaignId, countRows, changes, outboxRow ? [outboxRow] : [])) };
      }),
    );
    await recorder?.flush();
    const before = oldestCounts(results.map((r) => r.before));
    const after = newestCounts(results.map((r) => r.after));
    return { changed: results.flatMap((r) => r.ids), ...(await this.recordCounts(campaignId, before, after)) };
  }

  /**
   * Repairs the summary from the count rows of the buckets of some images: for a writer that died between
   * its bucket's transaction and the summary. Answers the progress, and whether this repair brought
   * `done` up to `total` (confirmed on the count rows).
   */
  async refreshProgress(campaignId: number, imageIds: number[]): Promise<{ progress: Progress; reachedTotal: boolean }> {
    const set = this.images(campaignId);
    const before = await set.summary.read();
    const fresh = await set.readCounts(groupByCountRow(imageIds).keys());
    const stale = new Map([...fresh.keys()].map((group) => [group, before.get(group) ?? { total: 0, version: -1, counters: {} }]));
    return this.recordCounts(campaignId, stale, fresh);
  }
}
