import type { ImageRecord } from "../../shared/repos/images.js";
import type { Services } from "../../shared/services.js";

/**
 * Records `count` images under `uploads/<title>/img-<i>.png` through the store's own code (no blobs:
 * tests of labels and campaigns do not read the bytes; the copy path is tested on its own).
 */
export async function recordImages(
  services: Services,
  title: string,
  count: number,
  size: { width: number; height: number } = { width: 100, height: 80 },
): Promise<number[]> {
  const facts = Array.from({ length: count }, (_, i) => ({
    blobPath: `uploads/${title}/img-${i}.png`,
    imagesetId: 1,
    imagesetTitle: title,
    width: size.width,
    height: size.height,
    filesize: 1000,
    filetype: "PNG",
    dateTaken: null,
    lat: null,
    lon: null,
  }));
  return (await services.images.record(facts)).map((r: ImageRecord) => r.imageId);
}
