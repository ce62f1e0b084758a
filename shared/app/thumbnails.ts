import sharp from "sharp";
import type { Principal } from "../auth.js";
import { ApiError, errorMessage, notFound, unprocessable } from "../errors.js";
import type { ImageRecord } from "../repos/images.js";
import type { Services } from "../services.js";
import { statusOf } from "../storage/tableErrors.js";
import { partnerMayAccess } from "../domain/campaigns.js";
import { mapLimit } from "../util/concurrency.js";
import { INLINE_MAX_BYTES, type ThumbnailSize } from "../domain/thumbnails.js";

/** Where a rendition is stored: beside the images, in a folder of its own (ids are never reused). */
export const thumbnailBlobName = (imageId: number, size: ThumbnailSize) => `thumbnails/${size}/${imageId}.webp`;

/** Renders a rendition: longest side `size` (never enlarged), pixel grid as stored (no EXIF rotation, like the labels' coordinates), WebP. */
export async function renderThumbnail(source: Buffer, size: ThumbnailSize): Promise<Buffer> {
  return sharp(source, { failOn: "none" }).resize({ width: size, height: size, fit: "inside", withoutEnlargement: true }).webp({ quality: 80 }).toBuffer();
}

/**
 * The rendition's blob name, rendered and stored on first request. Rendering is deterministic, so two first
 * requests at once store the same bytes (the first write stands); nothing is written when the image's file is
 * missing (404) or cannot be decoded (422).
 */
export async function ensureThumbnail(services: Services, image: ImageRecord, size: ThumbnailSize, renders?: Gate): Promise<string> {
  const container = services.clients.blobService.getContainerClient(services.config.imageContainer);
  const name = thumbnailBlobName(image.imageId, size);
  const target = container.getBlockBlobClient(name);
  if (await target.exists()) return name;
  await (renders ? renders.run(() => render(services, image, size)) : render(services, image, size));
  return name;
}

/** At most `size` tasks at once (renders hold a whole source image in memory). */
export class Gate {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly size: number) {}
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

async function render(services: Services, image: ImageRecord, size: ThumbnailSize): Promise<Buffer> {
  const container = services.clients.blobService.getContainerClient(services.config.imageContainer);
  const target = container.getBlockBlobClient(thumbnailBlobName(image.imageId, size));
  let source: Buffer;
  try {
    source = await container.getBlobClient(image.blobPath).downloadToBuffer();
  } catch (error) {
    if (statusOf(error) === 404) throw notFound(`image ${image.imageId}'s file is missing from storage; it has no thumbnail`);
    throw error;
  }
  let bytes: Buffer;
  try {
    bytes = await renderThumbnail(source, size);
  } catch (error) {
    throw unprocessable(`image ${image.imageId}'s file cannot be decoded as an image (${errorMessage(error).slice(0, 120)}); it has no thumbnail`);
  }
  try {
    await target.uploadData(bytes, {
      blobHTTPHeaders: { blobContentType: "image/webp", blobCacheControl: "private, max-age=86400" },
      conditions: { ifNoneMatch: "*" },
    });
  } catch (error) {
    const status = statusOf(error);
    if (status !== 409 && status !== 412) throw error;
  }
  return bytes;
}

/** The rendition's bytes: read when stored (one storage call, no separate existence check), else rendered and stored. */
async function thumbnailBytes(services: Services, image: ImageRecord, size: ThumbnailSize, renders: Gate): Promise<Buffer> {
  const container = services.clients.blobService.getContainerClient(services.config.imageContainer);
  try {
    // One GET (downloadToBuffer would ask for the properties first).
    const response = await container.getBlobClient(thumbnailBlobName(image.imageId, size)).download();
    const chunks: Buffer[] = [];
    for await (const chunk of response.readableStreamBody!) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    return Buffer.concat(chunks);
  } catch (error) {
    if (statusOf(error) !== 404) throw error;
  }
  return renders.run(() => render(services, image, size));
}

/** A read SAS for the rendition, valid READ_SAS_MINUTES, with what a client needs to draw labels over it. */
export async function thumbnailLink(services: Services, image: ImageRecord, size: ThumbnailSize, renders?: Gate) {
  const name = await ensureThumbnail(services, image, size, renders);
  return linkTo(services, image, size, name);
}

async function linkTo(services: Services, image: ImageRecord, size: ThumbnailSize, name: string) {
  const expiresOn = new Date(Date.now() + services.config.settings.READ_SAS_MINUTES * 60_000);
  const url = await services.sas.blobUrl(services.config.imageContainer, name, "r", expiresOn);
  return { image_id: image.imageId, size, url, expires_on: expiresOn.toISOString(), image_width: image.width, image_height: image.height };
}

/** A link with the rendition's bytes inline when small: a page of thumbnails in one answer, no request per image. */
async function inlineLink(services: Services, image: ImageRecord, size: ThumbnailSize, renders: Gate) {
  const bytes = await thumbnailBytes(services, image, size, renders);
  const link = await linkTo(services, image, size, thumbnailBlobName(image.imageId, size));
  return bytes.length <= INLINE_MAX_BYTES ? { ...link, data_url: `data:image/webp;base64,${bytes.toString("base64")}` } : link;
}

/**
 * Of `imageIds`, those the principal may fetch, decided exactly as `imageFor` (and `GET /images/{id}`) decides
 * one: an admin any stored image, a labeler those held by one of its campaigns that is not finishing or
 * finished. The key's scope and each shared campaign are read once for the whole list.
 */
async function visibleImages(services: Services, principal: Principal, imageIds: number[]): Promise<Map<number, ImageRecord>> {
  const images = await services.images.getMany([...new Set(imageIds)]);
  if (principal.role === "image-admin") return images;
  const scope = new Set(await services.users.campaignsOf(principal.apikey));
  const campaigns = new Map<number, Promise<boolean>>();
  const open = (id: number) => {
    if (!campaigns.has(id))
      campaigns.set(
        id,
        services.campaigns.get(id).then((c) => c !== undefined && partnerMayAccess(c.status)),
      );
    return campaigns.get(id)!;
  };
  const allowed = await mapLimit([...images.keys()], 16, async (imageId) => {
    const holding = (await services.campaigns.campaignsOfImage(imageId)).filter((id) => scope.has(id));
    return (await Promise.all(holding.map(open))).some(Boolean);
  });
  return new Map([...images].filter((_, i) => allowed[i]));
}

/**
 * `GET /images/thumbnails?ids=`: the links of many thumbnails in one request (a review page is one call, not
 * a hundred), each rendered on first request like the single route (four renders at a time). An image the key
 * may not see is answered like an unknown one; a failing image is an entry with its status and detail, not a
 * failed request.
 */
export async function thumbnailLinks(services: Services, principal: Principal, imageIds: number[], size: ThumbnailSize, inline = false) {
  const visible = await visibleImages(services, principal, imageIds);
  const renders = new Gate(4);
  return mapLimit(imageIds, 16, async (imageId) => {
    const image = visible.get(imageId);
    if (!image) return { image_id: imageId, status: 404, detail: `image ${imageId} does not exist` };
    try {
      return await (inline ? inlineLink(services, image, size, renders) : thumbnailLink(services, image, size, renders));
    } catch (error) {
      if (error instanceof ApiError) return { image_id: imageId, status: error.status, detail: error.detail };
      throw error;
    }
  });
}
