import { schemaClassNames } from "../domain/labelSchemas.js";
import { contractTimestamp } from "../domain/time.js";
import { createExportStream, exportContentType, exportFileExtension } from "../export/formats/index.js";
import type { ExportFormat, ExportSource } from "../export/formats/types.js";
import { campaignExportSource, countMatching } from "../export/source.js";
import { PermanentJobError } from "../errors.js";
import type { Services } from "../services.js";
import { exportBlobName, exportOptions, queueExportJob } from "./exports.js";
import type { JobLog } from "./runtime.js";

/** Upload buffer size and parallel blocks: bounds memory whatever the export's size. */
const UPLOAD_BLOCK = 4 * 1024 * 1024;
const UPLOAD_BUFFERS = 4;
const PROGRESS_EVERY = 2000;

/**
 * Runs a file export (csv, json, coco, yolo, voc): streams the campaign's matching images through the format writer into one block
 * blob (committed only when complete, so a crash leaves no partial file), then marks it succeeded with
 * its check values. A repeated delivery of a finished job does nothing; a resumed one writes the file anew.
 */
export async function runExport(services: Services, exportId: string, log: JobLog): Promise<void> {
  const record = await services.exports.get(exportId);
  if (!record) throw new PermanentJobError(`export ${exportId} does not exist`);
  if (record.status === "succeeded" || record.status === "failed") {
    log.info(`export is ${record.status}; nothing to do`);
    return;
  }
  if (record.format === "masks") {
    // Masks have queues of their own (a message queued here before they did is passed on to the first stage).
    log.info("a mask export: queued on mask-plan");
    return queueExportJob(services, exportId, record.format);
  }
  const campaign = await services.campaigns.get(record.campaignId);
  if (!campaign) throw new PermanentJobError(`campaign ${record.campaignId} no longer exists`);
  const { filter } = exportOptions(record);
  const total = await countMatching(services, record.campaignId, filter);
  await services.exports.update(exportId, (current) => ({
    status: "running",
    dateStarted: current.dateStarted ?? contractTimestamp(),
    progressTotal: total,
    progressDone: 0,
  }));

  const format = record.format as ExportFormat;
  // The campaign's label schema numbers the classes; without one the writers number the labels they find.
  const classes = schemaClassNames(campaign.labels);
  // COCO reads the source twice (images, then annotations); YOLO too, unless a schema spares its label pass.
  const passes = format === "coco" || (format === "yolo" && !classes) ? 2 : 1;
  let seen = 0;
  let reporting = Promise.resolve();
  const base = campaignExportSource(services, record.campaignId, filter);
  const source: ExportSource = async function* () {
    for await (const image of base()) {
      yield image;
      if (++seen % PROGRESS_EVERY === 0) {
        const done = Math.min(total, Math.floor(seen / passes));
        reporting = reporting.then(() => services.exports.update(exportId, () => ({ progressDone: done })).then(() => undefined));
      }
    }
  };

  const blobName = exportBlobName(record, campaign.title, exportFileExtension(format));
  // The creation time fixes every timestamp inside the file, so a re-run writes the same bytes.
  const { stream, stats } = createExportStream(format, source, { now: new Date(record.dateCreated), classes });
  await services.clients.blobService
    .getContainerClient(services.config.exportContainer)
    .getBlockBlobClient(blobName)
    .uploadStream(stream, UPLOAD_BLOCK, UPLOAD_BUFFERS, { blobHTTPHeaders: { blobContentType: exportContentType(format) } });
  const result = await stats;
  await reporting;
  await services.exports.update(exportId, () => ({
    status: "succeeded",
    progressDone: total,
    imageCount: result.images,
    objectCount: result.objects,
    warnings: result.warnings,
    warningCount: result.warningCount,
    blobName,
    dateFinished: contractTimestamp(),
    error: null,
  }));
  log.info(`export written: ${blobName}, ${result.images} images, ${result.objects} objects, ${result.warningCount} warnings`);
}
