import type { ContainerClient } from "@azure/storage-blob";
import { dropboxContainer, imageBlobPath } from "../domain/imageSets.js";
import { readImageHeader } from "../domain/imageFacts.js";
import { contractTimestamp } from "../domain/time.js";
import { PermanentJobError } from "../errors.js";
import type { ImageFacts, ImageRecord } from "../repos/images.js";
import type { RejectedFile } from "../repos/imageSets.js";
import type { Services } from "../services.js";
import { mapLimit } from "../util/concurrency.js";
import type { JobLog } from "./runtime.js";

/** Bytes read from each upload to learn its type, size and EXIF without downloading whole photos. */
const HEADER_BYTES = 128 * 1024;
/** Put Blob From URL (synchronous server-side copy) takes sources up to 256 MiB; larger ones use the async copy. */
const SYNC_COPY_LIMIT = 256 * 1024 * 1024;
const LIST_PAGE = 1000;
/** Blobs copied before their records are written (one or two table transactions). */
const RECORD_CHUNK = 64;

/**
 * Copies a finishing image set's dropbox into the image store and records each image once.
 * Idempotent and resumable: images are keyed by blob path, so a repeated or resumed run skips what is
 * recorded and re-copies (same bytes) what was copied but not recorded; the dropbox is deleted and the
 * set marked finished only after every blob is handled.
 */
export async function runImageSetCopy(services: Services, imagesetId: number, log: JobLog): Promise<void> {
  const set = await services.imageSets.get(imagesetId);
  if (!set) throw new PermanentJobError(`image set ${imagesetId} does not exist`);
  if (set.status !== "processing") {
    log.info(`image set is ${set.status}, nothing to copy`);
    return;
  }
  const blobService = services.clients.blobService;
  const dropbox = blobService.getContainerClient(dropboxContainer(set.title));
  const store = blobService.getContainerClient(services.config.imageContainer);
  let copied = 0;
  let rejected = 0;
  if (await dropbox.exists()) {
    for await (const page of dropbox.listBlobsFlat().byPage({ maxPageSize: LIST_PAGE })) {
      const blobs = page.segment.blobItems.map((b) => ({ name: b.name, size: b.properties.contentLength ?? 0 }));
      // Recorded chunk by chunk, so a crash loses at most one chunk of copies (redone, same bytes).
      for (let start = 0; start < blobs.length; start += RECORD_CHUNK) {
        const result = await copyChunk(services, set.imagesetId, set.title, dropbox, store, blobs.slice(start, start + RECORD_CHUNK));
        copied += result.recorded;
        rejected += result.rejected;
      }
      log.info(`listing page done: ${copied} images recorded, ${rejected} files rejected so far`);
    }
    await dropbox.deleteIfExists();
  }
  await services.imageSets.update(imagesetId, (current) =>
    current.status === "processing" ? { status: "finished", dateFinished: contractTimestamp(), failureReason: "" } : null,
  );
  log.info(`image set finished: ${copied} images, ${rejected} rejected files`);
}

async function copyChunk(
  services: Services,
  imagesetId: number,
  title: string,
  dropbox: ContainerClient,
  store: ContainerClient,
  blobs: Array<{ name: string; size: number }>,
): Promise<{ recorded: number; rejected: number }> {
  const folder = services.config.imageFolder;
  const targetPath = (name: string) => imageBlobPath(folder, title, name);
  const already = await services.images.recordedIds(blobs.map((b) => targetPath(b.name)));
  const todo = blobs.filter((b) => !already.has(targetPath(b.name)));
  // One read SAS for this page's sources; short-lived, read-only.
  const sourceSas = await services.sas.containerUrl(dropbox.containerName, "r", new Date(Date.now() + 60 * 60_000));
  const sasQuery = sourceSas.slice(sourceSas.indexOf("?"));
  const outcomes = await mapLimit(todo, services.config.settings.COPY_CONCURRENCY, async (blob) => {
    const source = dropbox.getBlobClient(blob.name);
    const head = await source.downloadToBuffer(0, Math.min(blob.size, HEADER_BYTES) || undefined);
    let header = await readImageHeader(head, blob.size <= HEADER_BYTES);
    if (!header.ok && "needsMore" in header) header = await readImageHeader(await source.downloadToBuffer(), true);
    if (!header.ok) return { rejected: { name: blob.name, reason: "reason" in header ? header.reason : "not an image" } };
    const target = store.getBlockBlobClient(targetPath(blob.name));
    const sourceUrl = `${source.url}${sasQuery}`;
    if (blob.size <= SYNC_COPY_LIMIT) await target.syncCopyFromURL(sourceUrl);
    else await (await target.beginCopyFromURL(sourceUrl)).pollUntilDone();
    const facts: ImageFacts = { blobPath: targetPath(blob.name), imagesetId, imagesetTitle: title, filesize: blob.size, ...header.header };
    return { facts };
  });
  const facts = outcomes.flatMap((o) => ("facts" in o && o.facts ? [o.facts] : []));
  const rejectedFiles: RejectedFile[] = outcomes.flatMap((o) => ("rejected" in o && o.rejected ? [o.rejected] : []));
  const recorded = await services.images.record(facts);
  // Images recorded by an earlier, interrupted run still need their membership (idempotent).
  const earlier = [...(await services.images.getMany([...already.values()])).values()];
  const members: ImageRecord[] = [...earlier, ...recorded].sort((a, b) => a.imageId - b.imageId);
  await services.images.addMembers(imagesetId, members);
  if (rejectedFiles.length) await services.imageSets.addRejected(imagesetId, rejectedFiles);
  return { recorded: recorded.length, rejected: rejectedFiles.length };
}

/** After the last delivery failed: the set shows why instead of staying `processing`. */
export async function failImageSetCopy(services: Services, imagesetId: number, reason: string): Promise<void> {
  await services.imageSets.update(imagesetId, (current) =>
    current.status === "processing" ? { status: "failed", failureReason: reason.slice(0, 1000) } : null,
  );
}
