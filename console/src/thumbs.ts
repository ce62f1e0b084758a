import { api, query } from "./api";

/** A thumbnail's link: a read SAS URL for the rendition and the image's own size (the labels' coordinates). */
export interface ThumbLink {
  image_id: number;
  size: number;
  url: string;
  expires_on: string;
  image_width: number;
  image_height: number;
  /** The rendition itself, for small sizes: shown without a request per image. */
  data_url?: string;
}

interface Failed {
  image_id: number;
  status: number;
  detail: string;
}

/** Links are reused until a minute before their SAS expires, so paging back and forth loads no thumbnail twice. */
const links = new Map<string, { until: number; link: Promise<ThumbLink> }>();

/**
 * Requests made in the same turn (a grid mounting its tiles) go out together: `GET /images/thumbnails?ids=...`
 * for 25 images at a time, a few in parallel, instead of a request per image. Grid-sized renditions come
 * inline (data URLs), so a page of 100 thumbnails is four requests, not a hundred and four: measured in
 * headless Chromium on two cores, 100 image requests cost over a second of browser time on their own.
 */
const BATCH = 25;
const pending = new Map<number, Map<number, Array<{ resolve: (l: ThumbLink) => void; reject: (e: Error) => void }>>>();
let scheduled = false;

function flush(): void {
  scheduled = false;
  const batches = [...pending];
  pending.clear();
  for (const [size, waiters] of batches) {
    const ids = [...waiters.keys()];
    for (let i = 0; i < ids.length; i += BATCH) {
      const chunk = ids.slice(i, i + BATCH);
      api<{ thumbnails: Array<ThumbLink | Failed> }>("GET", `/images/thumbnails${query({ ids: chunk.join(","), size, inline: size <= 256 })}`).then(
        ({ thumbnails }) => {
          for (const entry of thumbnails) {
            for (const waiter of waiters.get(entry.image_id) ?? []) {
              if ("url" in entry) waiter.resolve(entry);
              else waiter.reject(new Error(entry.detail));
            }
            waiters.delete(entry.image_id);
          }
          for (const rest of chunk.flatMap((id) => waiters.get(id) ?? [])) rest.reject(new Error("no thumbnail"));
        },
        (error: Error) => chunk.forEach((id) => waiters.get(id)?.forEach((w) => w.reject(error))),
      );
    }
  }
}

export function thumbnail(imageId: number, size = 256): Promise<ThumbLink> {
  const key = `${imageId}:${size}`;
  const cached = links.get(key);
  if (cached && cached.until > Date.now()) return cached.link;
  const link = new Promise<ThumbLink>((resolve, reject) => {
    const forSize = pending.get(size) ?? new Map<number, Array<{ resolve: (l: ThumbLink) => void; reject: (e: Error) => void }>>();
    pending.set(size, forSize);
    forSize.set(imageId, [...(forSize.get(imageId) ?? []), { resolve, reject }]);
    if (!scheduled) {
      scheduled = true;
      setTimeout(flush, 0);
    }
  });
  links.set(key, { until: Date.now() + 10 * 60_000, link });
  link.then(
    (l) => links.set(key, { until: Math.min(Date.now() + 10 * 60_000, Date.parse(l.expires_on) - 60_000), link }),
    () => links.delete(key),
  );
  return link;
}

export const forgetThumbnails = () => links.clear();

/** Starts loading the links of a list as soon as it arrives, before its tiles render. */
export function prefetchThumbnails(imageIds: number[], size = 256): void {
  for (const id of imageIds) thumbnail(id, size).catch(() => undefined);
}
