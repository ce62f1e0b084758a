import { contractTimestamp } from "../domain/time.js";
import { ZipWriter } from "../export/zip.js";
import { PermanentJobError } from "../errors.js";
import type { Services } from "../services.js";
import { exportBlobName } from "./exports.js";
import { maskOptions } from "./maskOutputs.js";
import type { JobLog } from "./runtime.js";

/**
 * Queues the last stage of a mask export. The message id is the export's: Service Bus keeps one of the zips
 * that several last renders (repeated deliveries) may queue; on Storage queues a second zip finds the export
 * succeeded and does nothing.
 */
export async function queueMaskZip(services: Services, exportId: string): Promise<void> {
  await services.queue.send("mask-zip", { exportId }, { messageId: `mask-zip:${exportId}` });
}

/**
 * The last stage of a mask export (`mask-zip`): zips the output folder (streamed blob by blob) into the export's
 * one download and marks it succeeded with the renders' counts and warnings. The folder is this job's own
 * (claimed when the request was accepted; no other job may use it, an ancestor or a folder inside it), so its
 * listing holds exactly the job's files. The zip is committed whole, so a repeated or resumed zip writes it anew.
 */
export async function runMaskZip(services: Services, exportId: string, log: JobLog): Promise<void> {
  const record = await services.exports.get(exportId);
  if (!record) throw new PermanentJobError(`export ${exportId} does not exist`);
  if (record.status === "succeeded" || record.status === "failed") {
    log.info(`export is ${record.status}; nothing to zip`);
    return;
  }
  const units = await services.exports.unitProgress(exportId);
  if (record.stage !== "render" || units.done < record.progressTotal) {
    // Never zip a partial folder. A zip is queued once the count reached the total; seeing less now means a repeated
    // plan raised the total (the campaign changed), and the renders it fanned out queue the zip again as they land.
    log.warn(`not every image is rendered (${record.stage ?? "not planned"}, ${units.done}/${record.progressTotal}); the last render queues the zip`);
    return;
  }
  const options = maskOptions(record);
  const output = services.clients.blobService.getContainerClient(services.config.exportContainer);
  const campaign = await services.campaigns.get(record.campaignId);
  const blobName = exportBlobName(record, campaign?.title ?? `campaign-${record.campaignId}`, ".zip");
  const zip = new ZipWriter({ mtime: new Date(record.dateCreated), compressionLevel: 1 });
  const upload = output.getBlockBlobClient(blobName).uploadStream(zip.output, 4 * 1024 * 1024, 4, { blobHTTPHeaders: { blobContentType: "application/zip" } });
  let entries = 0;
  try {
    for await (const blob of output.listBlobsFlat({ prefix: `${options.outputFolder}/` })) {
      const download = await output.getBlobClient(blob.name).download();
      await zip.addStream(blob.name.slice(options.outputFolder.length + 1), download.readableStreamBody as never);
      entries++;
    }
    await zip.finish();
  } catch (error) {
    zip.abort(error instanceof Error ? error : new Error(String(error)));
    await upload.catch(() => undefined);
    throw error;
  }
  await upload;
  const unitWarnings = await services.exports.unitWarnings(exportId);
  await services.exports.update(exportId, (current) =>
    current.status === "succeeded"
      ? null
      : {
          status: "succeeded",
          stage: "zip",
          blobName,
          progressDone: units.done,
          imageCount: units.done,
          objectCount: units.objects,
          warnings: [...current.warnings, ...unitWarnings].slice(0, 100),
          warningCount: current.warningCount + units.warningCount,
          dateFinished: contractTimestamp(),
          error: null,
        },
  );
  log.info(`mask export zipped: ${entries} files into ${blobName}`);
}
