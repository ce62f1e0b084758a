import { z } from "zod";

export const IMAGESET_STATUSES = ["created", "processing", "finished", "failed"] as const;
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

export const dropboxContainer = (title: string) => `${DROPBOX_PREFIX}${title}`;

/** Where a set's images live inside the image container. */
export const imageBlobPath = (folder: string, title: string, name: string) => (folder ? `${folder}/${title}/${name}` : `${title}/${name}`);

/**
 * Status changes. Clients may only ask for `finished`: from `created`, or from `failed` to try again.
 * The copy job moves `processing` to `finished` or `failed`.
 */
export function canRequestFinish(status: ImageSetStatus): boolean {
  return status === "created" || status === "failed";
}

export const createImageSetSchema = z
  .object({
    title: z.string(),
    metadata: z.record(z.string(), z.unknown()).nullable().optional(),
  })
  .strict();

export const updateImageSetSchema = z.object({ new_status: z.literal("finished") }).strict();

/** `[{id}]` or `[{filepath}]` items for adding stored images to a set or campaign. */
export const imageRefsSchema = z
  .array(
    z.union([
      z.object({ id: z.number().int().positive() }).strict(),
      z.object({ filepath: z.string().min(1).max(1024) }).strict(),
    ]),
  )
  .min(1, "give at least one image")
  .max(10_000, "at most 10,000 images per request");
export type ImageRef = z.infer<typeof imageRefsSchema>[number];
