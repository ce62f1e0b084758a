import { createHash } from "node:crypto";
import type { TableClient } from "@azure/data-tables";
import type { ImageSetStatus } from "../domain/imageSets.js";
import { DenseList, type Row } from "../storage/denseList.js";
import { queryPages, rowPrefix } from "../storage/queries.js";
import { retryOnConflict } from "../storage/retry.js";
import { pad } from "../storage/tableErrors.js";
import { stringColumn } from "../storage/rows.js";
import { imageSetEventOf } from "../domain/webhooks.js";
import { imageSetEventData, newEvent } from "../webhooks/events.js";
import { updateWithOutbox, type AnnounceOptions, type Outbox } from "../webhooks/outbox.js";

/** An image set as stored; `blobstoragePath` is its dropbox container, `failureReason` why the copy job failed (while the set is `failed`). */
export interface ImageSetRecord {
  imagesetId: number;
  title: string;
  status: ImageSetStatus;
  metadata: Record<string, unknown> | null;
  blobstoragePath: string;
  createdBy: string;
  dateCreated: string;
  dateFinished: string | null;
  failureReason: string | null;
  etag: string;
}

/** A dropbox file the copy job did not take, by its name in the dropbox, with the reason shown in `rejected_files`. */
export interface RejectedFile {
  name: string;
  reason: string;
}

function toRecord(row: Row, imagesetId: number): ImageSetRecord {
  return {
    imagesetId,
    title: String(row.title),
    status: row.status as ImageSetStatus,
    metadata: row.metadata ? (JSON.parse(stringColumn(row, "metadata")) as Record<string, unknown>) : null,
    blobstoragePath: String(row.blobstoragePath),
    createdBy: String(row.createdBy),
    dateCreated: String(row.dateCreated),
    dateFinished: (row.dateFinished as string | undefined) || null,
    failureReason: (row.failureReason as string | undefined) || null,
    etag: String(row.etag),
  };
}

/** Image sets in the `records` table: a dense list keyed by title (ids and uniqueness in one), plus each set's rejected files. */
export class ImageSetStore {
  private readonly list: DenseList;

  constructor(
    private readonly table: TableClient,
    /** Where status changes record their webhook events (imageset.finished, imageset.failed); none: no events. */
    private readonly outbox?: Outbox,
  ) {
    this.list = new DenseList(table, "imagesets", "set");
  }

  async findIdByTitle(title: string): Promise<number | undefined> {
    const row = await this.list.getByKey(title);
    return row ? Number(row.pos) + 1 : undefined;
  }

  /** Creates the set; `undefined` when the title is taken. */
  async create(fields: Omit<ImageSetRecord, "imagesetId" | "etag">): Promise<ImageSetRecord | undefined> {
    const { metadata, dateFinished, failureReason, ...rest } = fields;
    const result = await this.list.append(fields.title, { ...rest, metadata: metadata ? JSON.stringify(metadata) : "" });
    if (!result.created) return undefined;
    return this.get(result.pos + 1);
  }

  async get(imagesetId: number): Promise<ImageSetRecord | undefined> {
    const row = await this.list.getAt(imagesetId - 1);
    return row ? toRecord(row, imagesetId) : undefined;
  }

  async count(): Promise<number> {
    return this.list.count();
  }

  async page(offset: number, limit: number): Promise<ImageSetRecord[]> {
    const rows = await this.list.range(offset, limit);
    return rows.map((row, i) => toRecord(row, offset + i + 1));
  }

  /**
   * Applies `change` to the current record under its ETag, retrying on a concurrent write; `change`
   * returns the fields to set, or null to leave the record as it is. A status change that ends the copy
   * (`processing → finished | failed`) writes its webhook event in the same transaction; a write that
   * keeps the status (a repeated job) announces nothing.
   */
  async update(
    imagesetId: number,
    change: (current: ImageSetRecord) => Partial<Pick<ImageSetRecord, "status" | "dateFinished" | "failureReason">> | null,
    options: AnnounceOptions = {},
  ): Promise<ImageSetRecord | undefined> {
    const recorder = options.announce === false ? undefined : this.outbox?.recorder("records");
    const updated = await retryOnConflict(`image set ${imagesetId}`, async () => {
      const current = await this.get(imagesetId);
      if (!current) return undefined;
      const fields = change(current);
      if (!fields) return current;
      const type = fields.status ? imageSetEventOf(current.status, fields.status) : undefined;
      const events = type ? [newEvent(type, `image_sets/${imagesetId}`, imageSetEventData({ ...current, ...fields }))] : [];
      await updateWithOutbox(this.table, recorder, { partitionKey: "imagesets", rowKey: this.list.posKey(imagesetId - 1), ...fields }, current.etag, events);
      return this.get(imagesetId);
    });
    await recorder?.flush();
    return updated;
  }

  async addRejected(imagesetId: number, files: RejectedFile[]): Promise<void> {
    await Promise.all(
      files.map((file) =>
        this.table.upsertEntity(
          {
            partitionKey: `imageset!${pad(imagesetId)}`,
            rowKey: `rejected!${createHash("sha256").update(file.name).digest("hex")}`,
            name: file.name,
            reason: file.reason,
          },
          "Replace",
        ),
      ),
    );
  }

  async rejected(imagesetId: number, limit = 1000): Promise<RejectedFile[]> {
    const files: RejectedFile[] = [];
    for await (const page of queryPages(this.table, rowPrefix(`imageset!${pad(imagesetId)}`, "rejected!"))) {
      for (const row of page) files.push({ name: String(row.name), reason: String(row.reason) });
      if (files.length >= limit) break;
    }
    return files.slice(0, limit);
  }
}
