import type { Principal } from "../auth.js";
import { toExportFilter, type ExportFilter, type JobFormat } from "../domain/exports.js";
import { errorMessage, notFound, unavailable } from "../errors.js";
import { newExportId, type ExportRecord } from "../repos/exports.js";
import type { Services } from "../services.js";
import { getCampaign } from "./campaigns.js";
import { contractTimestamp } from "../domain/time.js";

/** The export job resource (export formats and masks alike). */
export async function exportView(services: Services, record: ExportRecord) {
  const downloadUrl =
    record.status === "succeeded" && record.blobName
      ? await services.sas.blobUrl(services.config.exportContainer, record.blobName, "r", new Date(Date.now() + services.config.settings.READ_SAS_MINUTES * 60_000), {
          contentDisposition: `attachment; filename="${record.blobName.split("/").pop()}"`,
        })
      : null;
  return {
    export_id: record.exportId,
    campaign_id: record.campaignId,
    format: record.format,
    status: record.status,
    options: record.options,
    progress: { done: record.progressDone, total: record.progressTotal },
    counts: { images: record.imageCount, objects: record.objectCount },
    warnings: record.warnings,
    warning_count: record.warningCount,
    created_by: record.createdBy,
    date_created: record.dateCreated,
    date_started: record.dateStarted,
    date_finished: record.dateFinished,
    download_url: downloadUrl,
    error: record.error,
  };
}

export interface ExportOptionsInput {
  format: JobFormat;
  label_status: "admin_complete" | "user_complete" | "all";
  test_data?: boolean;
  start?: { at: string; dateOnly: boolean };
  end?: { at: string; dateOnly: boolean };
  last_activity_start?: { at: string; dateOnly: boolean };
  last_activity_end?: { at: string; dateOnly: boolean };
  output_folder?: string;
  suffix?: string;
  gt_mode?: string;
}

export interface StoredExportOptions {
  filter: ExportFilter;
  request: Record<string, unknown>;
  masks?: { outputFolder: string; suffix: string; gtMode: string };
}

/** Records an export job and queues it; answers with the queued job. */
export async function startExport(services: Services, principal: Principal, campaignId: number, input: ExportOptionsInput): Promise<ExportRecord> {
  await getCampaign(services, campaignId);
  const { format, output_folder, suffix, gt_mode, ...filters } = input;
  const options: StoredExportOptions = {
    filter: toExportFilter(filters),
    request: {
      label_status: filters.label_status,
      ...(filters.test_data !== undefined ? { test_data: filters.test_data } : {}),
      ...Object.fromEntries(
        (["start", "end", "last_activity_start", "last_activity_end"] as const).filter((k) => filters[k]).map((k) => [k, filters[k]!.at]),
      ),
    },
    ...(format === "masks" ? { masks: { outputFolder: output_folder!.replace(/^\/+|\/+$/g, ""), suffix: suffix ?? "_gt", gtMode: gt_mode! } } : {}),
  };
  const record = await services.exports.create({
    exportId: newExportId(campaignId),
    campaignId,
    format,
    options: options as unknown as Record<string, unknown>,
    status: "queued",
    createdBy: principal.email,
    dateCreated: contractTimestamp(),
    dateStarted: null,
    dateFinished: null,
    progressDone: 0,
    progressTotal: 0,
    imageCount: 0,
    objectCount: 0,
    warnings: [],
    warningCount: 0,
    blobName: null,
    error: null,
    stage: null,
  });
  try {
    await services.queue.send("export-run", { exportId: record.exportId }, { messageId: `export-run:${record.exportId}` });
  } catch (error) {
    await services.exports.update(record.exportId, () => ({ status: "failed", error: `could not be queued: ${errorMessage(error)}` }));
    throw unavailable(`could not queue the export (${errorMessage(error)}); try again`);
  }
  return record;
}

export async function getExport(services: Services, exportId: string): Promise<ExportRecord> {
  const record = await services.exports.get(exportId);
  if (!record) throw notFound(`export ${exportId} does not exist`);
  return record;
}
