import { createHash, randomBytes } from "node:crypto";
import { odata, type TableClient, type TransactionAction } from "@azure/data-tables";
import { folderAncestors } from "../domain/exports.js";
import { BucketedSet } from "../storage/buckets.js";
import { queryAll, rowRange, type Row } from "../storage/queries.js";
import { retryOnConflict } from "../storage/retry.js";
import { readRow } from "../storage/rows.js";
import { isConflict, isNotFound, pad } from "../storage/tableErrors.js";
import { stringColumn } from "../storage/rows.js";
import { exportEventOf } from "../domain/webhooks.js";
import { recordAfter, exportEventData, newEvent } from "../webhooks/events.js";
import { updateWithOutbox, type AnnounceOptions, type Outbox } from "../webhooks/outbox.js";

/** An export job's states: `queued` until a worker starts it, `running`, then `succeeded` (with a download) or `failed`. */
export const EXPORT_STATUSES = ["queued", "running", "succeeded", "failed"] as const;
export type ExportStatus = (typeof EXPORT_STATUSES)[number];

/** An export job as stored: its request, progress, counts and warnings, and the blob to download once it succeeded. */
export interface ExportRecord {
  exportId: string;
  campaignId: number;
  format: string;
  /** Filters and format options as the client gave them (validated). */
  options: Record<string, unknown>;
  status: ExportStatus;
  createdBy: string;
  dateCreated: string;
  dateStarted: string | null;
  dateFinished: string | null;
  /** Work units done and in all (images for most formats). */
  progressDone: number;
  progressTotal: number;
  imageCount: number;
  objectCount: number;
  warnings: string[];
  warningCount: number;
  blobName: string | null;
  error: string | null;
  /** Where a multi-stage job (masks: render, then zip) stands. */
  stage: string | null;
  etag: string;
}

/** A fanned-out export's rendered units so far. */
export interface UnitProgress {
  done: number;
  objects: number;
  warningCount: number;
}

/** The fields an export update may set (ExportStore.update). */
export type ExportChange = Partial<Omit<ExportRecord, "exportId" | "campaignId" | "format" | "createdBy" | "dateCreated" | "etag">>;

const partitionOf = (campaignId: number) => `campaign!${pad(campaignId)}`;

/** Mask output folder claims: one partition for the whole export container, so one transaction covers a folder and its ancestors. */
const FOLDERS = "folders";
/** Row key of a folder's row: a hash, because a folder (up to 512 characters of any script) may not fit or be allowed in a key. */
const folderKey = (folder: string) => `folder!${createHash("sha256").update(folder, "utf8").digest("hex")}`;
/** Row key of a mask image's output stem, kept only for images renamed to keep output names unique. */
const renameKey = (exportId: string, imageId: number) => `rename!${exportId}!${imageId}`;

/** A claim younger than this is live even without its export record (the request that made it may still be running). */
export const STALE_CLAIM_MS = 5 * 60_000;

/** The outcome of claiming a mask output folder. */
export type FolderClaim =
  | { ok: true }
  /** `folder` (the claimed one, one of its ancestors, or one inside it) is written to by export `owner`. */
  | { ok: false; relation: "same" | "inside" | "holds"; folder: string; owner: string };

interface FolderRow {
  folder: string;
  /** The export that writes into this folder; empty for a marker row (an ancestor of claimed folders). */
  owner: string;
  claimedAt: number;
  etag: string;
}

const toFolderRow = (row: Record<string, unknown>): FolderRow => ({
  folder: String(row.folder),
  owner: stringColumn(row, "owner"),
  claimedAt: Number(row.claimedAt ?? 0),
  etag: String(row.etag),
});

/** `<campaignId>-<yyyymmddhhmmss>-<random>`: names its campaign's partition and sorts by creation time. */
export function newExportId(campaignId: number, now = new Date()): string {
  return `${campaignId}-${now
    .toISOString()
    .replace(/[-:TZ.]/g, "")
    .slice(0, 14)}-${randomBytes(4).toString("hex")}`;
}

export function campaignOfExport(exportId: string): number | undefined {
  const match = /^([1-9][0-9]{0,14})-[0-9]{14}-[0-9a-f]{8}$/.exec(exportId);
  return match ? Number(match[1]) : undefined;
}

function toRecord(row: Row): ExportRecord {
  const text = (v: unknown) => (typeof v === "string" && v !== "" ? v : null);
  return {
    exportId: String(row.rowKey),
    campaignId: Number(row.campaignId),
    format: String(row.format),
    options: JSON.parse(stringColumn(row, "options", "{}")) as Record<string, unknown>,
    status: row.status as ExportStatus,
    createdBy: String(row.createdBy),
    dateCreated: String(row.dateCreated),
    dateStarted: text(row.dateStarted),
    dateFinished: text(row.dateFinished),
    progressDone: Number(row.progressDone ?? 0),
    progressTotal: Number(row.progressTotal ?? 0),
    imageCount: Number(row.imageCount ?? 0),
    objectCount: Number(row.objectCount ?? 0),
    warnings: JSON.parse(stringColumn(row, "warnings") || "[]") as string[],
    warningCount: Number(row.warningCount ?? 0),
    blobName: text(row.blobName),
    error: text(row.error),
    stage: text(row.stage),
    etag: String(row.etag),
  };
}

function toEntity(change: ExportChange): Record<string, unknown> {
  const { warnings, options, ...rest } = change;
  const entity: Record<string, unknown> = Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, v ?? ""]));
  if (warnings) entity.warnings = JSON.stringify(warnings.slice(0, 100));
  if (options) entity.options = JSON.stringify(options);
  return entity;
}

/** Export jobs in the `exports` table, one partition per campaign (listing a campaign's exports is one partition read). */
export class ExportStore {
  constructor(
    private readonly table: TableClient,
    /** Where status changes record their webhook events (export.succeeded, export.failed); none: no events. */
    private readonly outbox?: Outbox,
  ) {}

  async create(record: Omit<ExportRecord, "etag">): Promise<ExportRecord> {
    const { exportId, campaignId, format, options, createdBy, dateCreated, ...rest } = record;
    await this.table.createEntity({
      partitionKey: partitionOf(campaignId),
      rowKey: exportId,
      campaignId,
      format,
      options: JSON.stringify(options),
      createdBy,
      dateCreated,
      ...toEntity(rest),
    });
    return (await this.get(exportId))!;
  }

  async get(exportId: string): Promise<ExportRecord | undefined> {
    const campaignId = campaignOfExport(exportId);
    if (campaignId === undefined) return undefined;
    const row = await readRow(this.table, partitionOf(campaignId), exportId);
    return row && toRecord(row);
  }

  async listForCampaign(campaignId: number): Promise<ExportRecord[]> {
    // Export ids start with the campaign id's digits; rename rows ('rename!...') sort after them.
    const rows = await queryAll(this.table, rowRange(partitionOf(campaignId), "0", "9\uffff"));
    return rows.map(toRecord).reverse();
  }

  /**
   * Applies `change` under the record's ETag, retrying on concurrent writes; `change` returns null to leave it. Reaching
   * `succeeded` or `failed` writes the webhook event in the same transaction (only when the status changes, so a
   * repeated job announces nothing).
   */
  async update(exportId: string, change: (current: ExportRecord) => ExportChange | null, options: AnnounceOptions = {}): Promise<ExportRecord | undefined> {
    const recorder = options.announce === false ? undefined : this.outbox?.recorder("exports");
    const updated = await retryOnConflict(`export ${exportId}`, async () => {
      const current = await this.get(exportId);
      if (!current) return undefined;
      const fields = change(current);
      if (!fields) return current;
      const type = fields.status ? exportEventOf(current.status, fields.status) : undefined;
      const events = type ? [newEvent(type, `exports/${exportId}`, exportEventData(recordAfter(current, fields)))] : [];
      await updateWithOutbox(
        this.table,
        recorder,
        { partitionKey: partitionOf(current.campaignId), rowKey: exportId, ...toEntity(fields) },
        current.etag,
        events,
      );
      return this.get(exportId);
    });
    await recorder?.flush();
    return updated;
  }

  /**
   * The rendered units of a fanned-out export (mask images), bucketed by image id in partitions of their
   * own (`export!<exportId>!<bucket>`), each bucket counting its units and their objects and warnings.
   */
  private units(exportId: string): BucketedSet {
    return new BucketedSet(this.table, `export!${exportId}`, "unit");
  }

  /**
   * Marks one unit of a fanned-out export done, exactly once: its row and its bucket's counts change in one
   * transaction, so a repeated render of the same image cannot count twice. Returns the units done so far.
   */
  async markUnitDone(exportId: string, unit: number, extra: { objects: number; warnings: string[] }): Promise<UnitProgress> {
    const units = this.units(exportId);
    await units.add(
      [{ id: unit, entity: { objects: extra.objects, warnings: JSON.stringify(extra.warnings.slice(0, 20)), warningCount: extra.warnings.length } }],
      () => ({
        objects: extra.objects,
        warnings: extra.warnings.length,
      }),
    );
    return this.unitProgress(exportId);
  }

  /** Units done, with their objects and warnings, from the units' summary (one read). */
  async unitProgress(exportId: string): Promise<UnitProgress> {
    const progress: UnitProgress = { done: 0, objects: 0, warningCount: 0 };
    for (const counts of (await this.units(exportId).summary.read()).values()) {
      progress.done += counts.total;
      progress.objects += counts.counters.objects ?? 0;
      progress.warningCount += counts.counters.warnings ?? 0;
    }
    return progress;
  }

  /** The units' warnings (at most `limit`), for the finished export's record. */
  async unitWarnings(exportId: string, limit = 100): Promise<string[]> {
    const warnings: string[] = [];
    for await (const rows of this.units(exportId).scan(odata`warningCount gt 0`, ["warnings"])) {
      for (const row of rows) warnings.push(...(JSON.parse(stringColumn(row, "warnings", "[]")) as string[]));
      if (warnings.length >= limit) break;
    }
    return warnings.slice(0, limit);
  }

  /**
   * Claims `folder` of the export container for export `exportId`, race-free: fails when the folder, one of its
   * ancestors or one folder inside it belongs to another live export (siblings such as `gt/run1` and `gt/run2` are
   * fine). Each claimed folder has an owner row; each proper ancestor of it a marker row (owner empty). A claim
   * creates or updates (under their ETags) its owner row and all its ancestor rows in one transaction in one
   * partition, so of two overlapping claims exactly one commits; the other retries and sees the winner. A claim is
   * live while its export record exists, or for `STALE_CLAIM_MS` after it was made; a dead one (a request that
   * crashed between claiming and recording) is taken over.
   */
  async claimFolder(folder: string, exportId: string, clock: () => number = Date.now): Promise<FolderClaim> {
    const ancestors = folderAncestors(folder);
    return retryOnConflict(`output folder ${folder}`, async (): Promise<FolderClaim> => {
      const now = clock();
      const [own, ...above] = await Promise.all([folder, ...ancestors].map((f) => this.folderRow(f)));
      const actions: TransactionAction[] = [];
      for (const [i, row] of above.entries()) {
        if (row && row.owner && (await this.claimLive(row, now))) return { ok: false, relation: "inside", folder: ancestors[i]!, owner: row.owner };
        // A missing ancestor gets a marker; an existing one (marker, or a dead claim turned into one) is rewritten
        // under its ETag, so a concurrent claim of that ancestor cannot slip in between.
        actions.push(
          row
            ? [
                "update",
                {
                  partitionKey: FOLDERS,
                  rowKey: folderKey(row.folder),
                  folder: row.folder,
                  owner: "",
                  claimedAt: row.owner ? now : row.claimedAt,
                  touchedAt: now,
                },
                "Replace",
                { etag: row.etag },
              ]
            : ["create", { partitionKey: FOLDERS, rowKey: folderKey(ancestors[i]!), folder: ancestors[i]!, owner: "", claimedAt: now, touchedAt: now }],
        );
      }
      const mine = { partitionKey: FOLDERS, rowKey: folderKey(folder), folder, owner: exportId, claimedAt: now, touchedAt: now };
      if (!own) actions.push(["create", mine]);
      else {
        if (own.owner === exportId) return { ok: true };
        if (own.owner && (await this.claimLive(own, now))) return { ok: false, relation: "same", folder, owner: own.owner };
        if (!own.owner) {
          // A marker: folders inside this one were claimed. Free only if none of those claims is live.
          for (const inner of await this.foldersInside(folder)) {
            if (await this.claimLive(inner, now)) return { ok: false, relation: "holds", folder: inner.folder, owner: inner.owner };
          }
        }
        actions.push(["update", mine, "Replace", { etag: own.etag }]);
      }
      await this.table.submitTransaction(actions);
      return { ok: true };
    });
  }

  /** The export that owns `folder`, if any (live or not). */
  async folderOwner(folder: string): Promise<string | undefined> {
    return (await this.folderRow(folder))?.owner || undefined;
  }

  /** Gives a claim back (a request that failed after claiming). Ancestor markers stay: a marker with no live claim inside is free. */
  async releaseFolder(folder: string, exportId: string): Promise<void> {
    const row = await this.folderRow(folder);
    if (row?.owner !== exportId) return;
    try {
      await this.table.deleteEntity(FOLDERS, folderKey(folder), { etag: row.etag });
    } catch (error) {
      if (!isConflict(error) && !isNotFound(error)) throw error;
    }
  }

  private async folderRow(folder: string): Promise<FolderRow | undefined> {
    const row = await readRow(this.table, FOLDERS, folderKey(folder));
    return row && toFolderRow(row);
  }

  /** Claimed folders inside `folder` (owner rows only); a scan of the claims partition, needed only when claiming a marked folder. */
  private async foldersInside(folder: string): Promise<FolderRow[]> {
    const out: FolderRow[] = [];
    // Every name starting with `<folder>/` sorts in [`<folder>/`, `<folder>0`): '0' follows '/'.
    const filter = odata`PartitionKey eq ${FOLDERS} and folder gt ${`${folder}/`} and folder lt ${`${folder}0`} and owner ne ''`;
    for await (const row of this.table.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) {
      out.push(toFolderRow(row));
    }
    return out;
  }

  /** A claim is live while its export record exists or while it is younger than `STALE_CLAIM_MS`. */
  private async claimLive(row: FolderRow, now: number): Promise<boolean> {
    if (!row.owner) return false;
    if (now - row.claimedAt < STALE_CLAIM_MS) return true;
    return (await this.get(row.owner)) !== undefined;
  }

  /** Stores the output stems of the images a mask export renamed (up to 100 rows per transaction; rewriting is harmless). */
  async saveRenames(exportId: string, renames: ReadonlyArray<{ imageId: number; stem: string }>): Promise<void> {
    const campaignId = campaignOfExport(exportId);
    if (campaignId === undefined) throw new RangeError(`not an export id: ${exportId}`);
    const pk = partitionOf(campaignId);
    for (let start = 0; start < renames.length; start += 100) {
      await this.table.submitTransaction(
        renames.slice(start, start + 100).map(({ imageId, stem }) => ["upsert", { partitionKey: pk, rowKey: renameKey(exportId, imageId), stem }, "Replace"]),
      );
    }
  }

  /** The output stem a mask export gave `imageId` when it renamed it; undefined when the image keeps its default names. */
  async getRename(exportId: string, imageId: number): Promise<string | undefined> {
    const campaignId = campaignOfExport(exportId);
    if (campaignId === undefined) return undefined;
    const row = await readRow(this.table, partitionOf(campaignId), renameKey(exportId, imageId));
    return row && String(row.stem);
  }
}
