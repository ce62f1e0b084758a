import { randomBytes } from "node:crypto";
import type { TableClient, } from "@azure/data-tables";
import { ConcurrencyError } from "../errors.js";
import { isTransactionConflict, jitter } from "../storage/denseList.js";
import type { Row } from "../storage/denseList.js";
import { isConflict, isNotFound, pad } from "../storage/tableErrors.js";

export const EXPORT_STATUSES = ["queued", "running", "succeeded", "failed"] as const;
export type ExportStatus = (typeof EXPORT_STATUSES)[number];

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

export type ExportChange = Partial<Omit<ExportRecord, "exportId" | "campaignId" | "format" | "createdBy" | "dateCreated" | "etag">>;

const partitionOf = (campaignId: number) => `campaign!${pad(campaignId)}`;

/** `<campaignId>-<yyyymmddhhmmss>-<random>`: names its campaign's partition and sorts by creation time. */
export function newExportId(campaignId: number, now = new Date()): string {
  return `${campaignId}-${now.toISOString().replace(/[-:TZ.]/g, "").slice(0, 14)}-${randomBytes(4).toString("hex")}`;
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
    options: JSON.parse(String(row.options ?? "{}")) as Record<string, unknown>,
    status: row.status as ExportStatus,
    createdBy: String(row.createdBy),
    dateCreated: String(row.dateCreated),
    dateStarted: text(row.dateStarted),
    dateFinished: text(row.dateFinished),
    progressDone: Number(row.progressDone ?? 0),
    progressTotal: Number(row.progressTotal ?? 0),
    imageCount: Number(row.imageCount ?? 0),
    objectCount: Number(row.objectCount ?? 0),
    warnings: JSON.parse(String(row.warnings || "[]")) as string[],
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
  constructor(private readonly table: TableClient) {}

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
    try {
      return toRecord(await this.table.getEntity<Record<string, unknown>>(partitionOf(campaignId), exportId));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async listForCampaign(campaignId: number): Promise<ExportRecord[]> {
    const out: ExportRecord[] = [];
    const iterator = this.table.listEntities<Record<string, unknown>>({
      queryOptions: { filter: `PartitionKey eq '${partitionOf(campaignId)}' and RowKey lt 'm'` },
    });
    for await (const row of iterator) out.push(toRecord(row));
    return out.reverse();
  }

  async update(exportId: string, change: (current: ExportRecord) => ExportChange | null): Promise<ExportRecord | undefined> {
    for (let attempt = 0; attempt < 30; attempt++) {
      const current = await this.get(exportId);
      if (!current) return undefined;
      const fields = change(current);
      if (!fields) return current;
      try {
        await this.table.updateEntity({ partitionKey: partitionOf(current.campaignId), rowKey: exportId, ...toEntity(fields) }, "Merge", {
          etag: current.etag,
        });
        return this.get(exportId);
      } catch (error) {
        if (!isConflict(error)) throw error;
        await jitter(attempt);
      }
    }
    throw new ConcurrencyError(`export ${exportId}`);
  }

  /**
   * Marks one unit of a fanned-out export done, exactly once: a marker row and the progress bump go in
   * one transaction, so a repeated render of the same image cannot count twice. Returns the progress.
   */
  async markUnitDone(exportId: string, unit: string, extra: { objects?: number; warnings?: string[] } = {}): Promise<ExportRecord | undefined> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const current = await this.get(exportId);
      if (!current) return undefined;
      const pk = partitionOf(current.campaignId);
      const warnings = [...current.warnings, ...(extra.warnings ?? [])];
      try {
        await this.table.submitTransaction([
          ["create", { partitionKey: pk, rowKey: `unit!${exportId}!${unit}` }],
          [
            "update",
            {
              partitionKey: pk,
              rowKey: exportId,
              progressDone: current.progressDone + 1,
              imageCount: current.imageCount + 1,
              objectCount: current.objectCount + (extra.objects ?? 0),
              warnings: JSON.stringify(warnings.slice(0, 100)),
              warningCount: current.warningCount + (extra.warnings?.length ?? 0),
            },
            "Merge",
            { etag: current.etag },
          ],
        ]);
        return this.get(exportId);
      } catch (error) {
        if (!isTransactionConflict(error)) throw error;
        try {
          await this.table.getEntity(pk, `unit!${exportId}!${unit}`);
          return this.get(exportId); // already counted by an earlier delivery
        } catch (lookup) {
          if (!isNotFound(lookup)) throw lookup;
        }
        await jitter(attempt);
      }
    }
    throw new ConcurrencyError(`export ${exportId}`);
  }
}
