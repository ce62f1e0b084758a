import type { StoredExportOptions } from "../app/exports.js";
import { DOWNLOADS_PREFIX } from "../domain/exports.js";
import { contractTimestamp } from "../domain/time.js";
import type { ExportRecord } from "../repos/exports.js";
import type { Services } from "../services.js";

/**
 * What every export job shares, whichever queue runs it: its stored options, where its download goes, how it
 * is queued and how it shows a final failure. The file formats run on `export-run` (exportRun.ts); a mask
 * export runs in three stages, `mask-plan`, `mask-render` and `mask-zip` (maskPlan.ts, maskRender.ts, maskZip.ts).
 */

export const exportOptions = (record: ExportRecord) => record.options as unknown as StoredExportOptions;

/** `downloads/<campaignId>/<exportId>/<title>_<format><ext>` in the export container. */
export function exportBlobName(record: ExportRecord, title: string, extension: string): string {
  return `${DOWNLOADS_PREFIX}/${record.campaignId}/${record.exportId}/${title}_${record.format}${extension}`;
}

/**
 * Queues a recorded export on its first stage. The message id is stable, so Service Bus drops a second send of
 * the same export within its duplicate-detection window (a retried request, a forwarded message).
 */
export async function queueExportJob(services: Services, exportId: string, format: string): Promise<void> {
  if (format === "masks") await services.queue.send("mask-plan", { exportId }, { messageId: `mask-plan:${exportId}` });
  else await services.queue.send("export-run", { exportId }, { messageId: `export-run:${exportId}` });
}

/** Marks an export failed, unless it succeeded meanwhile (a late failure of a repeated message changes nothing). */
export async function failExport(services: Services, exportId: string, reason: string): Promise<void> {
  await services.exports.update(exportId, (current) =>
    current.status === "succeeded" ? null : { status: "failed", error: reason.slice(0, 2000), dateFinished: contractTimestamp() },
  );
}
