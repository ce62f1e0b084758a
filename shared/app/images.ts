import type { Principal } from "../auth.js";
import { pageOffset, type PageRequest } from "../domain/pagination.js";
import { notFound } from "../errors.js";
import type { ImageRecord } from "../repos/images.js";
import type { Services } from "../services.js";
import { labelerMaySee } from "./campaigns.js";

/**
 * The image a principal may fetch: an admin any, a labeler only one held by its campaigns that are not
 * finishing or finished; anything else is the same 404 as an unknown id (a labeler learns nothing of
 * images outside its campaigns).
 */
export async function imageFor(services: Services, principal: Principal, imageId: number): Promise<ImageRecord> {
  const image = await services.images.get(imageId);
  if (!image || (principal.role !== "image-admin" && !(await labelerMaySee(services, principal, imageId)))) {
    throw notFound(`image ${imageId} does not exist`);
  }
  return image;
}

/** A short-lived read-only link to an image's blob (`READ_SAS_MINUTES`), for a principal allowed to see it. */
export async function imageLink(services: Services, principal: Principal, imageId: number): Promise<string> {
  const image = await imageFor(services, principal, imageId);
  const expiresOn = new Date(Date.now() + services.config.settings.READ_SAS_MINUTES * 60_000);
  return services.sas.blobUrl(services.config.imageContainer, image.blobPath, "r", expiresOn);
}

/** A page of the store's images, in id order. */
export async function imagesPage(services: Services, page: PageRequest): Promise<{ total: number; images: ImageRecord[] }> {
  const [total, images] = await Promise.all([services.images.count(), services.images.page(pageOffset(page), page.perPage)]);
  return { total, images };
}
