import { readImageHeader, type HeaderResult } from "../media/imageFacts.js";
import { relativePathProblem, type RelativePath } from "../domain/inputRules.js";
import { dropboxContainer, imageFolderOf, lateUploadReason, rejectedNameReason } from "../domain/imageSets.js";
import { contractTimestamp } from "../domain/time.js";
import { errorMessage, PermanentJobError } from "../errors.js";
import type { ImageFacts } from "../repos/images.js";
import type { RejectedFile } from "../repos/imageSets.js";
import type { Services } from "../services.js";
import { DropboxScope, ImageFolderScope, SourceChangedError, SourceGoneError, type BlobRange } from "../storage/scopedBlobs.js";
import { statusOf } from "../storage/tableErrors.js";
import { mapLimit } from "../util/concurrency.js";
import type { JobLog } from "./runtime.js";

/**
 * Bytes read from each upload to learn its type, size and EXIF without downloading whole photos: a
 * small prefix first, a larger one when the header runs past it (big EXIF blocks), the whole file last.
 */
const HEADER_READS = [32 * 1024, 512 * 1024];
const LIST_PAGE = 1000;
/** Copies per concurrent slot before their records are written: bounds what a crash makes the next run redo. */
const CHUNK_PER_SLOT = 8;
/** Times one upload is re-read when it is replaced while being copied, before it is left for the next pass. */
const SOURCE_CHANGE_RETRIES = 3;

/** What the job knows of the set's dropbox entries: recorded ones by target path (with the source ETag copied), handled names. */
interface CopyState {
  /** Target blob path -> ETag of the dropbox version that was copied ("" when recorded by an older run without one). */
  recorded: Map<string, string>;
  /** Names rejected or reported late in this run, so later passes do not handle them again. */
  handled: Set<string>;
}

type Outcome = { facts: ImageFacts } | { rejected: RejectedFile } | { skipped: string };

/**
 * Copies a finishing image set's dropbox into the image store and records each image once.
 *
 * Confinement: dropbox names come from whoever holds the SAS URL, so each is checked against the one
 * rule for relative paths (`relativePathProblem`) before use; a name that fails is listed in
 * `rejected_files` and never copied. The job reaches blobs only through a `DropboxScope` (read, list,
 * delete the dropbox) and an `ImageFolderScope` (write inside `<folder>/<title>/`), both built from
 * validated names, so it cannot read, write or delete anything else.
 *
 * Late uploads: the dropbox SAS cannot be revoked in Azure (a user delegation SAS has no stored access
 * policy), so the job lists the dropbox in passes until a pass finds nothing new, and only then deletes
 * it; an upload that replaces one already recorded is listed as late (its first version is kept).
 * The bytes recorded are those whose header was read: the copy is conditional on that version's ETag.
 *
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
  const dropbox = new DropboxScope(blobService.getContainerClient(dropboxContainer(set.title)), async () => {
    // One read SAS per use; short-lived and read-only.
    const url = await services.sas.containerUrl(dropboxContainer(set.title), "r", new Date(Date.now() + 60 * 60_000));
    return url.slice(url.indexOf("?"));
  });
  const store = new ImageFolderScope(blobService.getContainerClient(services.config.imageContainer), imageFolderOf(services.config.imageFolder, set.title));
  let recorded = 0;
  let rejected = 0;
  try {
    if (await dropbox.exists()) {
      const state: CopyState = { recorded: await services.images.memberSources(imagesetId), handled: new Set() };
      // Passes until one finds nothing to do: uploads that land while the job runs are recorded too.
      for (let pass = 1; ; pass++) {
        const before = { recorded, rejected };
        for await (const page of listOrExplain(dropbox)) {
          // Recorded chunk by chunk, so a crash loses at most one chunk of copies (redone, same bytes).
          const chunk = services.config.settings.COPY_CONCURRENCY * CHUNK_PER_SLOT;
          for (let start = 0; start < page.length; start += chunk) {
            const result = await handleChunk(services, set.imagesetId, set.title, dropbox, store, page.slice(start, start + chunk), state, log);
            recorded += result.recorded;
            rejected += result.rejected;
          }
        }
        log.info(`pass ${pass} done: ${recorded} images recorded, ${rejected} files rejected so far`);
        if (recorded === before.recorded && rejected === before.rejected) break;
      }
      await dropbox.remove();
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
  log.info(`image set finished: ${recorded} images, ${rejected} rejected files`);
}

/** The dropbox's pages; a listing the service fails to produce becomes an error that says what to do. */
async function* listOrExplain(dropbox: DropboxScope): AsyncIterable<Array<{ name: string; etag: string; size: number }>> {
  try {
    yield* dropbox.list(LIST_PAGE);
  } catch (error) {
    if (statusOf(error) !== 500) throw error;
    // Seen on Azurite: a blob name holding a character XML cannot carry (e.g. U+0001) breaks its listing.
    throw new Error(
      `the dropbox ${dropbox.name} could not be listed (the storage service failed: ${errorMessage(error) || "status 500"}); ` +
        "a blob name with a control character can cause this: delete that upload and finish the set again",
    );
  }
}

async function handleChunk(
  services: Services,
  imagesetId: number,
  title: string,
  dropbox: DropboxScope,
  store: ImageFolderScope,
  blobs: Array<{ name: string; etag: string; size: number }>,
  state: CopyState,
  log: JobLog,
): Promise<{ recorded: number; rejected: number }> {
  const outcomes: Outcome[] = [];
  const todo: Array<{ name: RelativePath; etag: string }> = [];
  for (const blob of blobs) {
    if (state.handled.has(blob.name)) continue;
    const problem = relativePathProblem(blob.name);
    if (problem) {
      outcomes.push({ rejected: { name: blob.name, reason: rejectedNameReason(problem) } });
      continue;
    }
    if (blob.size === 0) {
      outcomes.push({ rejected: { name: blob.name, reason: "empty file (0 bytes)" } });
      continue;
    }
    const name = blob.name as RelativePath;
    const copiedEtag = state.recorded.get(store.pathOf(name));
    if (copiedEtag === undefined) todo.push({ name, etag: blob.etag });
    else if (copiedEtag !== "" && copiedEtag !== blob.etag) outcomes.push({ rejected: { name: blob.name, reason: lateUploadReason } });
  }
  outcomes.push(...(await mapLimit(todo, services.config.settings.COPY_CONCURRENCY, (blob) => copyOne(dropbox, store, imagesetId, title, blob.name))));

  const facts = outcomes.flatMap((o) => ("facts" in o ? [o.facts] : []));
  const rejectedFiles = outcomes.flatMap((o) => ("rejected" in o ? [o.rejected] : []));
  for (const o of outcomes) if ("skipped" in o) log.info(o.skipped);
  // A path recorded by a run that died before joining it to the set keeps its id (never a second one).
  const images = await services.images.record(facts);
  await services.images.addMembers(imagesetId, images);
  if (rejectedFiles.length) await services.imageSets.addRejected(imagesetId, rejectedFiles);
  for (const image of images) state.recorded.set(image.blobPath, image.sourceEtag ?? "");
  for (const file of rejectedFiles) state.handled.add(file.name);
  return { recorded: images.length, rejected: rejectedFiles.length };
}

/** Reads one upload's header and, if it is an image, copies exactly that version into the set's folder. */
async function copyOne(dropbox: DropboxScope, store: ImageFolderScope, imagesetId: number, title: string, name: RelativePath): Promise<Outcome> {
  for (let attempt = 0; ; attempt++) {
    try {
      const { header, version } = await readHeader(dropbox, name);
      if (!header.ok) return { rejected: { name, reason: header.reason } };
      await store.copyIn(name, await dropbox.sourceUrl(name), version.etag, version.size);
      const facts: ImageFacts = {
        blobPath: store.pathOf(name),
        imagesetId,
        imagesetTitle: title,
        filesize: version.size,
        sourceEtag: version.etag,
        ...header.header,
      };
      return { facts };
    } catch (error) {
      // Replaced while we worked on it: start over with the new version (a later pass catches a busy one).
      if (error instanceof SourceChangedError && attempt < SOURCE_CHANGE_RETRIES) continue;
      if (error instanceof SourceChangedError) return { rejected: { name, reason: "not copied: it was replaced again and again while the set was finishing" } };
      // Deleted from the dropbox by its uploader while the job ran: nothing to record.
      if (error instanceof SourceGoneError) return { skipped: error.message };
      throw error;
    }
  }
}

/** The header of one version of the upload: a prefix first, a longer one, then the whole file, all of that same version. */
async function readHeader(dropbox: DropboxScope, name: RelativePath): Promise<{ header: HeaderResult; version: BlobRange }> {
  let version = await dropbox.read(name, HEADER_READS[0]);
  for (let step = 0; ; step++) {
    const complete = version.bytes.length >= version.size;
    const header = await readImageHeader(version.bytes, complete);
    if (header.ok || !("needsMore" in header)) return { header, version };
    const next = HEADER_READS[step + 1];
    version = await dropbox.read(name, next !== undefined && next < version.size ? next : undefined, version.etag);
  }
}

/** After the last delivery failed: the set shows why instead of staying `processing`. */
export async function failImageSetCopy(services: Services, imagesetId: number, reason: string): Promise<void> {
  const why = reason.trim() || "the copy job failed without an error message";
  await services.imageSets.update(imagesetId, (current) => (current.status === "processing" ? { status: "failed", failureReason: why.slice(0, 1000) } : null));
}
