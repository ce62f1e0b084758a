import type { ExportImage } from "../domain/labels.js";
import type { ExportFilter } from "../domain/exports.js";
import type { CampaignImage } from "../repos/campaigns.js";
import type { Services } from "../services.js";
import type { ExportSource } from "./formats/types.js";

export function toExportImage(image: CampaignImage): ExportImage {
  return {
    imageId: image.imageId,
    blobPath: image.blobPath,
    width: image.width,
    height: image.height,
    filetype: image.filetype,
    labelStatus: image.labelStatus,
    testData: image.testData,
    labeledAt: image.firstLabeledAt,
    lastActivityAt: image.lastActivityAt,
    objects: image.objects,
  };
}

/**
 * A campaign's matching images, page by page from table storage (1,000 rows at a time, in image-id
 * order), so an export holds one page in memory however large the campaign is. Each call iterates anew.
 */
export function campaignExportSource(services: Services, campaignId: number, filter: ExportFilter): ExportSource {
  return async function* () {
    for await (const images of services.campaigns.scanForExport(campaignId, filter)) {
      for (const image of images) yield toExportImage(image);
    }
  };
}

/** How many images an export will hold (reads only one small column). */
export async function countMatching(services: Services, campaignId: number, filter: ExportFilter): Promise<number> {
  let count = 0;
  for await (const images of services.campaigns.scanForExport(campaignId, filter, ["imageId"])) count += images.length;
  return count;
}
