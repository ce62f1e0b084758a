import { z } from "zod";
import { jsonObjectField, relativePathField } from "./inputRules.js";

export const IMAGESET_STATUSES = ["created", "processing", "finished", "failed"] as const;
/** Where an image set is: `created` (its dropbox takes uploads), `processing` (the copy job runs), then `finished` or `failed`. */
export type ImageSetStatus = (typeof IMAGESET_STATUSES)[number];

/** The dropbox container is `dropbox-<title>`, so a title must make that a valid container name. */
export const DROPBOX_PREFIX = "dropbox-";
const MAX_TITLE = 63 - DROPBOX_PREFIX.length;

/** Why a title cannot name a container, or null when it can. */
export function titleProblem(title: string): string | null {
  if (title.length < 1 || title.length > MAX_TITLE) return `title must be 1 to ${MAX_TITLE} characters long`;
  if (!/^[a-z0-9-]+$/.test(title)) return "title may only hold lowercase letters, digits and hyphens (it names a storage container)";
  if (!/^[a-z0-9]/.test(title) || !/[a-z0-9]$/.test(title)) return "title must start and end with a lowercase letter or digit";
  if (title.includes("--")) return "title may not hold two hyphens in a row";
  return null;
}

/** A set's dropbox, the container its images are uploaded to (titleProblem keeps `dropbox-<title>` a valid container name). */
export const dropboxContainer = (title: string) => `${DROPBOX_PREFIX}${title}`;

/** The folder of a set's images inside the image container: `<IMAGE_FOLDER>/<title>`. */
export const imageFolderOf = (folder: string, title: string) => (folder ? `${folder}/${title}` : title);

/** Where a set's image named `name` (a validated relative path) lives inside the image container. */
export const imageBlobPath = (folder: string, title: string, name: string) => `${imageFolderOf(folder, title)}/${name}`;

/** `rejected_files` reason for a dropbox name that breaks the relative-path rule (see inputRules.ts). */
export const rejectedNameReason = (problem: string) => `not copied: the name ${problem}`;

/** `rejected_files` reason for an upload that replaced a file after it had been recorded. */
export const lateUploadReason = "late: replaced after its first version was recorded; the first version was kept";

/**
 * Status changes. Clients may only ask for `finished`: from `created`, or from `failed` to try again.
 * The copy job moves `processing` to `finished` or `failed`.
 */
export function canRequestFinish(status: ImageSetStatus): boolean {
  return status === "created" || status === "failed";
}

/** `POST /image_sets`. The title is checked by titleProblem when the set is created (a 422 as well). */
export const createImageSetSchema = z
  .object({
    title: z.string(),
    metadata: jsonObjectField("metadata"),
  })
  .strict();

/** Any known status parses (only `finished` may be asked for; others are a 409); a value that is not a status is a 422. */
export const updateImageSetSchema = z.object({ new_status: z.enum(IMAGESET_STATUSES) }).strict();

const imageRef = z.union([z.object({ id: z.number().int().positive() }).strict(), z.object({ filepath: relativePathField("filepath") }).strict()]);
/** Look-ups by path cost a read each; by id a read per 1,000 ids. */
export const MAX_FILEPATH_REFS = 10_000;

/** `[{id}]` or `[{filepath}]` items for adding stored images, at most `max` per request (and 10,000 by filepath). */
export const imageRefsOf = (max: number) =>
  z
    .array(imageRef)
    .min(1, "give at least one image")
    .max(max, `at most ${max.toLocaleString("en")} images per request`)
    .refine(
      (refs) => refs.filter((ref) => "filepath" in ref).length <= MAX_FILEPATH_REFS,
      `at most ${MAX_FILEPATH_REFS.toLocaleString("en")} images by filepath per request`,
    );

/** Adding stored images to an image set (inline). */
export const imageRefsSchema = imageRefsOf(10_000);
/** A stored image, named by its id or by its `filepath` in the image container (a leading `/` is dropped). */
export type ImageRef = z.infer<typeof imageRef>;
