import { schemaClassNames } from "../domain/labelSchemas.js";
import { contractTimestamp } from "../domain/time.js";
import { StatsCollector } from "../export/formats/common.js";
import { campaignExportSource } from "../export/source.js";
import { PermanentJobError } from "../errors.js";
import { buildClassIndex } from "../masks/legend.js";
import type { Services } from "../services.js";
import { mapLimit } from "../util/concurrency.js";
import { exportOptions } from "./exports.js";
import { LEGEND_NAME, MaskNamer, maskOptions } from "./maskOutputs.js";
import { queueMaskZip } from "./maskZip.js";
import type { JobLog } from "./runtime.js";

/**
 * The first stage of a mask export (`mask-plan`). Fixes the class legend for the whole campaign, decides every
 * image's output names (storing the stems of renamed images for the renderers), writes `legend.json`, and fans
 * one `mask-render` message out per matching image, so many workers render in parallel. The last render queues
 * `mask-zip`; with no image to render, the plan queues it itself.
 *
 * Idempotent: a repeated plan decides the same names and sends the same render messages (same message ids, and
 * a render is counted once however often it runs). A plan delivered again after every render landed queues the
 * zip instead of planning anew.
 */
export async function runMaskPlan(services: Services, exportId: string, log: JobLog): Promise<void> {
  const record = await services.exports.get(exportId);
  if (!record) throw new PermanentJobError(`export ${exportId} does not exist`);
  if (record.format !== "masks") throw new PermanentJobError(`export ${exportId} is a ${record.format} export, not masks`);
  if (record.status === "succeeded" || record.status === "failed") {
    log.info(`export is ${record.status}; nothing to plan`);
    return;
  }
  if (record.stage === "render" && (await services.exports.unitProgress(exportId)).done >= record.progressTotal) {
    log.info("every image is rendered already: queued the zip");
    return queueMaskZip(services, exportId);
  }

  const options = maskOptions(record);
  const output = services.clients.blobService.getContainerClient(services.config.exportContainer);
  const { filter } = exportOptions(record);
  const classLabels =
    schemaClassNames((await services.campaigns.get(record.campaignId))?.labels ?? null) ?? (await foundClassLabels(services, record.campaignId));
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
  await services.exports.saveRenames(exportId, renames);
  await output
    .getBlockBlobClient(`${options.outputFolder}/${LEGEND_NAME}`)
    .upload(JSON.stringify({ gt_mode: options.gtMode, background: 0, classes: classLabels.map((label, i) => ({ value: i + 1, label })) }, null, 2), 0, {
      blobHTTPHeaders: { blobContentType: "application/json" },
    });
  const naming = stats.result();
  await services.exports.update(exportId, (current) => ({
    status: "running",
    stage: "render",
    dateStarted: current.dateStarted ?? contractTimestamp(),
    progressTotal: ids.length,
    options: { ...current.options, masks: { ...options, classLabels } },
    // A repeated plan keeps the warnings the renders added since.
    ...(current.stage === "render" ? {} : { warnings: naming.warnings, warningCount: naming.warningCount }),
  }));
  if (ids.length === 0) {
    log.info("no image to render: queued the zip");
    return queueMaskZip(services, exportId);
  }
  await mapLimit(ids, 32, (imageId) => services.queue.send("mask-render", { exportId, imageId }, { messageId: `mask-render:${exportId}:${imageId}` }));
  log.info(`fanned out ${ids.length} mask renders (${renames.length} renamed, ${naming.warningCount} warnings)`);
}

/**
 * The class values of a campaign without a label schema: every translated label its objects use (whatever the
 * job's filter), sorted by code point, 1..n. (With a schema, the schema's order gives the values.)
 */
async function foundClassLabels(services: Services, campaignId: number): Promise<string[]> {
  const labels = new Set<string>();
  for await (const rows of services.campaigns.scanImages(campaignId)) {
    for (const image of rows) for (const object of image.objects) if (typeof object?.label_translated === "string") labels.add(object.label_translated);
  }
  return [...buildClassIndex(labels).keys()];
}
