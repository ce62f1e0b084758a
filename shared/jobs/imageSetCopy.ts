import type { ContainerClient } from "@azure/storage-blob";
import { dropboxContainer, imageBlobPath } from "../domain/imageSets.js";
import { readImageHeader } from "../domain/imageFacts.js";
import { contractTimestamp } from "../domain/time.js";
import { PermanentJobError } from "../errors.js";
import type { ImageFacts } from "../repos/images.js";
import type { RejectedFile } from "../repos/imageSets.js";
import type { Services } from "../services.js";
import { mapLimit } from "../util/concurrency.js";
import type { JobLog } from "./runtime.js";

/**
 * Bytes read from each upload to learn its type, size and EXIF without downloading whole photos: a
 * small prefix first, a larger one when the header runs past it (big EXIF blocks), the whole file last.
 */
const HEADER_READS = [32 * 1024, 512 * 1024];
/** Put Blob From URL (synchronous server-side copy) takes sources up to 256 MiB; larger ones use the async copy. */
const SYNC_COPY_LIMIT = 256 * 1024 * 1024;
const LIST_PAGE = 1000;
/** Copies per concurrent slot before their records are written: bounds what a crash makes the next run redo. */
const CHUNK_PER_SLOT = 8;

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
  try {
    if (await dropbox.exists()) {
      // What an earlier, interrupted run recorded and joined to the set: skipped without a look-up each.
      const members = await services.images.memberPaths(imagesetId);
      for await (const page of dropbox.listBlobsFlat().byPage({ maxPageSize: LIST_PAGE })) {
        const blobs = page.segment.blobItems.map((b) => ({ name: b.name, size: b.properties.contentLength ?? 0 }));
        // Recorded chunk by chunk, so a crash loses at most one chunk of copies (redone, same bytes).
        const chunk = services.config.settings.COPY_CONCURRENCY * CHUNK_PER_SLOT;
        for (let start = 0; start < blobs.length; start += chunk) {
          const result = await copyChunk(services, set.imagesetId, set.title, dropbox, store, blobs.slice(start, start + chunk), members);
          copied += result.recorded;
          rejected += result.rejected;
        }
        log.info(`listing page done: ${copied} images recorded, ${rejected} files rejected so far`);
      }
      await dropbox.deleteIfExists();
    }
  } catch (error) {
    // A concurrent delivery of the same job deletes the dropbox only after recording every image, so a
    // dropbox that vanished under us means the work is done; anything else is a real failure.
    if (await dropbox.exists()) throw error;
    log.info("the dropbox was removed by a concurrent run that copied everything");
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
  members: ReadonlySet<string>,
): Promise<{ recorded: number; rejected: number }> {
  const folder = services.config.imageFolder;
  const targetPath = (name: string) => imageBlobPath(folder, title, name);
  const todo = blobs.filter((b) => !members.has(targetPath(b.name)));
  // One read SAS for this page's sources; short-lived, read-only.
  const sourceSas = await services.sas.containerUrl(dropbox.containerName, "r", new Date(Date.now() + 60 * 60_000));
  const sasQuery = sourceSas.slice(sourceSas.indexOf("?"));
  const outcomes = await mapLimit(todo, services.config.settings.COPY_CONCURRENCY, async (blob) => {
    const source = dropbox.getBlobClient(blob.name);
    const target = store.getBlockBlobClient(targetPath(blob.name));
    const sourceUrl = `${source.url}${sasQuery}`;
    // The server-side copy and the header read overlap; an upload that is not an image loses its copy again.
    const copy = (blob.size <= SYNC_COPY_LIMIT ? target.syncCopyFromURL(sourceUrl) : target.beginCopyFromURL(sourceUrl).then((p) => p.pollUntilDone())).then(
      () => undefined,
      (error: unknown) => error,
    );
    let header: Awaited<ReturnType<typeof readImageHeader>> = { ok: false, needsMore: true };
    for (const bytes of HEADER_READS) {
      const complete = blob.size <= bytes;
      header = await readImageHeader(await source.downloadToBuffer(0, complete ? undefined : bytes), complete);
      if (header.ok || !("needsMore" in header)) break;
    }
    if (!header.ok && "needsMore" in header) header = await readImageHeader(await source.downloadToBuffer(), true);
    const copyError = await copy;
    if (!header.ok) {
      await target.deleteIfExists();
      return { rejected: { name: blob.name, reason: "reason" in header ? header.reason : "not an image" } };
    }
    if (copyError) throw copyError;
    const facts: ImageFacts = { blobPath: targetPath(blob.name), imagesetId, imagesetTitle: title, filesize: blob.size, ...header.header };
    return { facts };
  });
  const facts = outcomes.flatMap((o) => ("facts" in o && o.facts ? [o.facts] : []));
  const rejectedFiles: RejectedFile[] = outcomes.flatMap((o) => ("rejected" in o && o.rejected ? [o.rejected] : []));
  // Mostly new: try without look-ups. A path recorded by a run that died before joining it to the set
  // makes the transaction fail, and the retry looks keys up and returns the existing id (never a second one).
  const recorded = await services.images.record(facts, { assumeNew: true });
  await services.images.addMembers(imagesetId, recorded, { assumeNew: true });
  if (rejectedFiles.length) await services.imageSets.addRejected(imagesetId, rejectedFiles);
  return { recorded: recorded.length, rejected: rejectedFiles.length };
}

/** After the last delivery failed: the set shows why instead of staying `processing`. */
export async function failImageSetCopy(services: Services, imagesetId: number, reason: string): Promise<void> {
  await services.imageSets.update(imagesetId, (current) =>
    current.status === "processing" ? { status: "failed", failureReason: reason.slice(0, 1000) } : null,
  );
}
