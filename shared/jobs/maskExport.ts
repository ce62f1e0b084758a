import type { ContainerClient } from "@azure/storage-blob";
import { copyBlob } from "../storage/blobCopy.js";
import { contractTimestamp } from "../domain/time.js";
import { campaignExportSource } from "../export/source.js";
import { imageRef, StatsCollector, UniqueNamer, withoutExtension, type NamedImage } from "../export/formats/common.js";
import { safeEntryPath, ZipWriter } from "../export/zip.js";
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

/** The job's class legend, at the root of its output folder. */
export const LEGEND_NAME = "legend.json";
/** Blob Storage's limit on a blob name. */
const MAX_BLOB_NAME = 1024;

/** One image's three outputs, relative to the output folder. */
export interface MaskOutputNames {
  /** The server-side copy of the image: its path, extension kept. */
  image: string;
  /** `<stem><suffix>.png` */
  mask: string;
  /** `<stem><suffix>.json` */
  legend: string;
}

/** The outputs for an image stem (its path without extension, `__<id>` appended when renamed). */
export function maskOutputNames(stem: string, extension: string, suffix: string): MaskOutputNames {
  return { image: `${stem}${extension}`, mask: `${stem}${suffix}.png`, legend: `${stem}${suffix}.json` };
}

const nameList = (names: MaskOutputNames) => [names.image, names.mask, names.legend];

/**
 * An image's outputs as the renderer writes them: the default names mirror the image's path under the output
 * folder; `renamedStem` is the stem the control stage stored for an image it had to rename. Undefined when the
 * path cannot be a file name (the control stage skips such images).
 */
export function maskImageNames(blobPath: string, suffix: string, renamedStem?: string): MaskOutputNames | undefined {
  const path = safeEntryPath(blobPath);
  if (path === null) return undefined;
  const stem = withoutExtension(path);
  return maskOutputNames(renamedStem ?? stem, path.slice(stem.length), suffix);
}

/**
 * Decides the output names of one mask job, image by image in id order: all names of the job (three per image,
 * plus legend.json) are one namespace compared ignoring case, since the zip is unpacked on case-insensitive file
 * systems too. A clash renames the later image's stem by the exporters' rule (`<stem>__<imageId>`, then `_2`, ...)
 * with the same warning. Returns null (with a warning) for an image that cannot be written.
 */
export class MaskNamer {
  private readonly namer: UniqueNamer;

  constructor(
    private readonly outputFolder: string,
    private readonly suffix: string,
    private readonly stats: StatsCollector,
  ) {
    this.namer = new UniqueNamer(stats, { caseInsensitive: true, reserved: [LEGEND_NAME] });
  }

  claim(image: NamedImage): { names: MaskOutputNames; renamedStem?: string } | null {
    const claimed = this.namer.claim(image, (stem, extension) => nameList(maskOutputNames(stem, extension, this.suffix)));
    if (!claimed) return null;
    const names = maskOutputNames(claimed.stem, claimed.extension, this.suffix);
    const longest = Math.max(...nameList(names).map((name) => this.outputFolder.length + 1 + name.length));
    if (longest > MAX_BLOB_NAME) {
      this.stats.warn(`${imageRef(image)}: skipped: its output names would be longer than the ${MAX_BLOB_NAME} characters a blob name may have`);
      return null;
    }
    return claimed.renamed ? { names, renamedStem: claimed.stem } : { names };
  }
}

/**
 * The mask export's control job. First delivery: fixes the class legend for the whole campaign, decides every
 * image's output names (storing the stems of renamed images for the renderers), writes `legend.json`, and fans
 * one `mask-render` message out per matching image (many workers render in parallel). Once every image is
 * rendered it runs again and zips the output folder, which this job alone writes to, into the download.
 */
export async function runMaskExportStage(services: Services, record: ExportRecord, log: JobLog): Promise<void> {
  const options = maskOptions(record);
  const output = services.clients.blobService.getContainerClient(services.config.exportContainer);
  if (record.stage === "render" && (await services.exports.unitProgress(record.exportId)).done >= record.progressTotal) return zipMasks(services, record, output, log);

  const { filter } = exportOptions(record);
  const labels = new Set<string>();
  for await (const rows of services.campaigns.scanImages(record.campaignId)) {
    for (const image of rows) for (const object of image.objects) if (typeof object?.label_translated === "string") labels.add(object.label_translated);
  }
  const classIndex = buildClassIndex(labels);
  const classLabels = [...classIndex.keys()];
  const stats = new StatsCollector();
  const namer = new MaskNamer(options.outputFolder, options.suffix, stats);
  const ids: number[] = [];
  const renames: Array<{ imageId: number; stem: string }> = [];
  for await (const image of campaignExportSource(services, record.campaignId, filter)()) {
    const claimed = namer.claim(image);
    if (!claimed) continue;
    ids.push(image.imageId);
    if (claimed.renamedStem !== undefined) renames.push({ imageId: image.imageId, stem: claimed.renamedStem });
  }
  const total = ids.length;
  await services.exports.saveRenames(record.exportId, renames);
  await output.getBlockBlobClient(`${options.outputFolder}/${LEGEND_NAME}`).upload(
    JSON.stringify({ gt_mode: options.gtMode, background: 0, classes: classLabels.map((label, i) => ({ value: i + 1, label })) }, null, 2),
    0,
    { blobHTTPHeaders: { blobContentType: "application/json" } },
  );
  const naming = stats.result();
  const updated = await services.exports.update(record.exportId, (current) => ({
    status: "running",
    stage: "render",
    dateStarted: current.dateStarted ?? contractTimestamp(),
    progressTotal: total,
    options: { ...current.options, masks: { ...options, classLabels } },
    // A repeated control run keeps the warnings the renders added since.
    ...(current.stage === "render" ? {} : { warnings: naming.warnings, warningCount: naming.warningCount }),
  }));
  if (total === 0) return zipMasks(services, updated!, output, log);
  await mapLimit(ids, 32, (imageId) =>
    services.queue.send("mask-render", { exportId: record.exportId, imageId }, { messageId: `mask-render:${record.exportId}:${imageId}` }),
  );
  log.info(`fanned out ${ids.length} mask renders (${renames.length} renamed, ${naming.warningCount} warnings)`);
}

/**
 * Renders one image's mask beside a server-side copy of the image, under the names the control stage decided
 * (one point read: a row exists only for a renamed image). Re-rendering writes the same bytes to the same names,
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
  const relative = maskImageNames(image.blobPath, options.suffix, await services.exports.getRename(exportId, imageId));
  if (!relative) throw new PermanentJobError(`image ${imageId}: blob path ${JSON.stringify(image.blobPath)} cannot be used as a file name`);
  const classIndex = new Map((options.classLabels ?? []).map((label, i) => [label, i + 1]));
  const rendered = await renderMask({ width: image.width, height: image.height, objects: image.objects, mode: options.gtMode, classIndex });
  const output = services.clients.blobService.getContainerClient(services.config.exportContainer);
  const at = (name: string) => output.getBlockBlobClient(`${options.outputFolder}/${name}`);
  const source = await services.sas.blobUrl(services.config.imageContainer, image.blobPath, "r", new Date(Date.now() + 15 * 60_000));
  const legend = JSON.stringify({ image_id: imageId, ...rendered.legend });
  await Promise.all([
    copyBlob(at(relative.image), source),
    at(relative.mask).uploadData(rendered.png, { blobHTTPHeaders: { blobContentType: "image/png" } }),
    at(relative.legend).upload(legend, Buffer.byteLength(legend), { blobHTTPHeaders: { blobContentType: "application/json" } }),
  ]);
  const after = await services.exports.markUnitDone(exportId, imageId, {
    objects: image.objects.length - rendered.warnings.length,
    warnings: rendered.warnings.map((w) => `image ${imageId}: ${w}`),
  });
  if (after.done >= record.progressTotal) {
    await services.queue.send("export-run", { exportId }, { messageId: `export-zip:${exportId}` });
  }
}

/**
 * Zips the output folder (streamed blob by blob) into the export's one download. The folder is this job's own
 * (claimed when the request was accepted; no other job may use it, an ancestor or a folder inside it), so its
 * listing holds exactly the job's files.
 */
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
  const [units, unitWarnings] = await Promise.all([services.exports.unitProgress(record.exportId), services.exports.unitWarnings(record.exportId)]);
  await services.exports.update(record.exportId, (current) => (current.status === "succeeded" ? null : {
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
  }));
  log.info(`mask export zipped: ${entries} files into ${blobName}`);
}
