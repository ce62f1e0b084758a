import { PermanentJobError } from "../errors.js";
import { orderedClassIndex } from "../masks/legend.js";
import { renderMask } from "../masks/render.js";
import type { Services } from "../services.js";
import { copyBlob } from "../storage/blobCopy.js";
import { maskImageNames, maskOptions } from "./maskOutputs.js";
import { queueMaskZip } from "./maskZip.js";
import type { JobLog } from "./runtime.js";

/**
 * The second stage of a mask export (`mask-render`, one message per image): renders one image's mask beside a
 * server-side copy of the image, under the names the plan decided (one point read: a row exists only for a
 * renamed image). Re-rendering writes the same bytes to the same names, and the unit is counted once however
 * often it is delivered; the render that brings the count to the total queues `mask-zip`.
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
  const classIndex = orderedClassIndex(options.classLabels ?? []);
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
  if (after.done >= record.progressTotal) await queueMaskZip(services, exportId);
}
