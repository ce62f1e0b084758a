import type { ContainerClient } from "@azure/storage-blob";
import { contractTimestamp } from "../domain/time.js";
import { campaignExportSource } from "../export/source.js";
import { ZipWriter } from "../export/zip.js";
import { PermanentJobError } from "../errors.js";
import { buildClassIndex, renderMask, type GtMode } from "../masks/render.js";
import type { ExportRecord } from "../repos/exports.js";
import type { Services } from "../services.js";
import { mapLimit } from "../util/concurrency.js";
import { exportBlobName, exportOptions } from "./exportRun.js";
import type { JobLog } from "./runtime.js";

interface MaskJobOptions {
  outputFolder: string;
  suffix: string;
  gtMode: GtMode;
  /** Class labels (label_translated, sorted) of the whole campaign: values 1..n of filled_semantic. */
  classLabels?: string[];
}

const maskOptions = (record: ExportRecord) => exportOptions(record).masks as MaskJobOptions;

/** Output names mirror the image's path under the output folder, so images from different sets never collide. */
export function maskBlobNames(outputFolder: string, blobPath: string, suffix: string) {
  const base = `${outputFolder}/${blobPath}`;
  const stem = base.replace(/\.[^./]*$/, "");
  return { image: base, mask: `${stem}${suffix}.png`, legend: `${stem}${suffix}.json` };
}

/**
 * The mask export's control job. First delivery: fixes the class legend for the whole campaign, writes
 * `legend.json`, and fans one `mask-render` message out per matching image (many workers render in
 * parallel). Once every image is rendered it runs again and zips the output folder into the download.
 */
export async function runMaskExportStage(services: Services, record: ExportRecord, log: JobLog): Promise<void> {
  const options = maskOptions(record);
  const output = services.clients.blobService.getContainerClient(services.config.exportContainer);
  if (record.stage === "render" && record.progressDone >= record.progressTotal) return zipMasks(services, record, output, log);

  const { filter } = exportOptions(record);
  const labels = new Set<string>();
  for await (const rows of services.campaigns.scanImages(record.campaignId)) {
    for (const image of rows) for (const object of image.objects) if (typeof object?.label_translated === "string") labels.add(object.label_translated);
  }
  const classIndex = buildClassIndex(labels);
  const classLabels = [...classIndex.keys()];
  const ids: number[] = [];
  for await (const image of campaignExportSource(services, record.campaignId, filter)()) ids.push(image.imageId);
  const total = ids.length;
  await output.getBlockBlobClient(`${options.outputFolder}/legend.json`).upload(
    JSON.stringify({ gt_mode: options.gtMode, background: 0, classes: classLabels.map((label, i) => ({ value: i + 1, label })) }, null, 2),
    0,
    { blobHTTPHeaders: { blobContentType: "application/json" } },
  );
  const updated = await services.exports.update(record.exportId, (current) => ({
    status: "running",
    stage: "render",
    dateStarted: current.dateStarted ?? contractTimestamp(),
    progressTotal: total,
    options: { ...current.options, masks: { ...options, classLabels } },
  }));
  if (total === 0) return zipMasks(services, updated!, output, log);
  await mapLimit(ids, 32, (imageId) =>
    services.queue.send("mask-render", { exportId: record.exportId, imageId }, { messageId: `mask-render:${record.exportId}:${imageId}` }),
  );
  log.info(`fanned out ${ids.length} mask renders`);
}

/**
 * Renders one image's mask beside a server-side copy of the image. Re-rendering writes the same bytes,
 * and the unit is counted once however often it is delivered; the last one queues the zip stage.
 */
export async function runMaskRender(services: Services, exportId: string, imageId: number, log: JobLog): Promise<void> {
  const record = await services.exports.get(exportId);
  if (!record) throw new PermanentJobError(`export ${exportId} does not exist`);
  if (record.status !== "running" || record.stage !== "render") {
    log.info(`export is ${record.status}${record.stage ? `/${record.stage}` : ""}; nothing to render`);
    return;
  }
  const options = maskOptions(record);
  const image = await services.campaigns.getImage(record.campaignId, imageId);
  if (!image) throw new PermanentJobError(`image ${imageId} is not part of campaign ${record.campaignId}`);
  const classIndex = new Map((options.classLabels ?? []).map((label, i) => [label, i + 1]));
  const rendered = await renderMask({ width: image.width, height: image.height, objects: image.objects, mode: options.gtMode, classIndex });
  const output = services.clients.blobService.getContainerClient(services.config.exportContainer);
  const names = maskBlobNames(options.outputFolder, image.blobPath, options.suffix);
  const source = await services.sas.blobUrl(services.config.imageContainer, image.blobPath, "r", new Date(Date.now() + 15 * 60_000));
  const legend = JSON.stringify({ image_id: imageId, ...rendered.legend });
  await Promise.all([
    output.getBlockBlobClient(names.image).syncCopyFromURL(source),
    output.getBlockBlobClient(names.mask).uploadData(rendered.png, { blobHTTPHeaders: { blobContentType: "image/png" } }),
    output.getBlockBlobClient(names.legend).upload(legend, Buffer.byteLength(legend), { blobHTTPHeaders: { blobContentType: "application/json" } }),
  ]);
  const after = await services.exports.markUnitDone(exportId, String(imageId), {
    objects: image.objects.length - rendered.warnings.length,
    warnings: rendered.warnings.map((w) => `image ${imageId}: ${w}`),
  });
  if (after && after.progressDone >= after.progressTotal) {
    await services.queue.send("export-run", { exportId }, { messageId: `export-zip:${exportId}` });
  }
}

/** Zips the output folder (streamed blob by blob) into the export's one download. */
async function zipMasks(services: Services, record: ExportRecord, output: ContainerClient, log: JobLog): Promise<void> {
  const options = maskOptions(record);
  const campaign = await services.campaigns.get(record.campaignId);
  const blobName = exportBlobName(record, campaign?.title ?? `campaign-${record.campaignId}`, ".zip");
  const zip = new ZipWriter({ mtime: new Date(record.dateCreated), compressionLevel: 1 });
  const upload = output
    .getBlockBlobClient(blobName)
    .uploadStream(zip.output, 4 * 1024 * 1024, 4, { blobHTTPHeaders: { blobContentType: "application/zip" } });
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
  await services.exports.update(record.exportId, () => ({
    status: "succeeded",
    stage: "zip",
    blobName,
    dateFinished: contractTimestamp(),
    error: null,
  }));
  log.info(`mask export zipped: ${entries} files into ${blobName}`);
}
