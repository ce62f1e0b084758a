import type { Principal } from "../auth.js";
import { canRequestFinish, dropboxContainer, titleProblem, type ImageRef, type ImageSetStatus } from "../domain/imageSets.js";
import { pageOffset, type PageRequest } from "../domain/pagination.js";
import { contractTimestamp } from "../domain/time.js";
import { conflict, notFound, unprocessable } from "../errors.js";
import type { ImageSetRecord } from "../repos/imageSets.js";
import type { ImageRecord } from "../repos/images.js";
import type { Services } from "../services.js";
import { mapLimit } from "../util/concurrency.js";
import { queueOrUndo } from "./queueing.js";

/**
 * Creates an image set in status `created` with its dropbox container (named after the title); 422 for a
 * title the rules refuse, 409 for one that is taken (the store decides a race between two requests).
 */
export async function createImageSet(services: Services, principal: Principal, title: string, metadata: Record<string, unknown> | null) {
  const problem = titleProblem(title);
  if (problem) throw unprocessable(`title ${JSON.stringify(title)}: ${problem}`);
  if ((await services.imageSets.findIdByTitle(title)) !== undefined) throw conflict(`an image set titled ${JSON.stringify(title)} exists already`);
  const container = dropboxContainer(title);
  await services.clients.blobService.getContainerClient(container).createIfNotExists();
  const set = await services.imageSets.create({
    title,
    status: "created",
    metadata,
    blobstoragePath: container,
    createdBy: principal.email,
    dateCreated: contractTimestamp(),
    dateFinished: null,
    failureReason: null,
  });
  if (!set) throw conflict(`an image set titled ${JSON.stringify(title)} exists already`);
  return set;
}

/** An image set by id; 404 when it does not exist. */
export async function getImageSet(services: Services, imagesetId: number): Promise<ImageSetRecord> {
  const set = await services.imageSets.get(imagesetId);
  if (!set) throw notFound(`image set ${imagesetId} does not exist`);
  return set;
}

/**
 * `PUT {new_status}`: only `finished` may be asked for (any other status is a conflict). Marks the set
 * processing and queues the copy; undone if the queue refuses.
 */
export async function changeImageSetStatus(services: Services, imagesetId: number, to: ImageSetStatus): Promise<void> {
  let refused: string | undefined;
  let before: { status: ImageSetStatus; failureReason: string } = { status: "created", failureReason: "" };
  const set = await services.imageSets.update(imagesetId, (current) => {
    before = { status: current.status, failureReason: current.failureReason ?? "" };
    if (to !== "finished") {
      refused = `image set ${imagesetId} is ${current.status}; it cannot become ${to} (only finished may be requested)`;
      return null;
    }
    if (!canRequestFinish(current.status)) {
      refused = `image set ${imagesetId} is ${current.status}; only a created (or failed) set can be finished`;
      return null;
    }
    refused = undefined;
    return { status: "processing", failureReason: "" };
  });
  if (!set) throw notFound(`image set ${imagesetId} does not exist`);
  if (refused) throw conflict(refused);
  await queueOrUndo(
    () => services.queue.send("imageset-copy", { imagesetId }),
    // Back to exactly what it was: a failed set stays failed with its reason.
    // Not announced (a failed set back to failed): the request answers 503, so the undo is not news.
    () => services.imageSets.update(imagesetId, (current) => (current.status === "processing" ? before : null), { announce: false }),
    "the copy job",
  );
}

/** Resolves `[{id}]` / `[{filepath}]` references to stored images; every unknown one is named in one 422. */
export async function resolveImageRefs(services: Services, refs: ImageRef[]): Promise<ImageRecord[]> {
  const byId = await services.images.getMany(refs.flatMap((ref) => ("id" in ref ? [ref.id] : [])));
  const found = await mapLimit(refs, 32, async (ref) => ("id" in ref ? byId.get(ref.id) : services.images.findByPath(ref.filepath.replace(/^\/+/, ""))));
  const missing = refs.filter((_, i) => !found[i]).map((ref) => ("id" in ref ? `id ${ref.id}` : `filepath ${JSON.stringify(ref.filepath)}`));
  if (missing.length)
    throw unprocessable(`no stored image with ${missing.slice(0, 20).join(", ")}${missing.length > 20 ? ` and ${missing.length - 20} more` : ""}`);
  return found as ImageRecord[];
}

/** Adds already stored images to a set as members while it is `created` (409 after); 422 and nothing added if a reference is unknown. */
export async function addImagesToSet(services: Services, imagesetId: number, refs: ImageRef[]): Promise<void> {
  const set = await getImageSet(services, imagesetId);
  if (set.status !== "created") throw conflict(`image set ${imagesetId} is ${set.status}; images can only be added while it is created`);
  const images = await resolveImageRefs(services, refs);
  await services.images.addMembers(imagesetId, images);
}

/** A page of image sets, in id order. */
export async function imageSetsPage(services: Services, page: PageRequest): Promise<{ total: number; sets: ImageSetRecord[] }> {
  const [total, sets] = await Promise.all([services.imageSets.count(), services.imageSets.page(pageOffset(page), page.perPage)]);
  return { total, sets };
}

/** A page of an image set's images (members), in id order. */
export async function imageSetImagesPage(services: Services, imagesetId: number, page: PageRequest): Promise<{ total: number; images: ImageRecord[] }> {
  await getImageSet(services, imagesetId);
  const [total, images] = await Promise.all([services.images.memberCount(imagesetId), services.images.memberPage(imagesetId, pageOffset(page), page.perPage)]);
  return { total, images };
}
