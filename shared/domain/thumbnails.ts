import { z } from "zod";

/** Longest side in pixels; 256 by default. A short fixed list, so each image has at most this many renditions. */
export const THUMBNAIL_SIZES = [128, 256, 512, 1024, 2048] as const;
/** One of the rendition sizes (the longest side, in pixels). */
export type ThumbnailSize = (typeof THUMBNAIL_SIZES)[number];
/** The size a thumbnail request gets when it names none. */
export const DEFAULT_THUMBNAIL_SIZE: ThumbnailSize = 256;

/** `GET /images/{id}/thumbnail?size=&redirect=`: both optional (the default size, and a 303 to the rendition). */
export const thumbnailQuerySchema = z.object({
  size: z
    .enum(THUMBNAIL_SIZES.map(String) as [string, ...string[]])
    .transform((s) => Number(s) as ThumbnailSize)
    .optional()
    .meta({ description: `longest side in pixels, one of ${THUMBNAIL_SIZES.join(", ")} (default ${DEFAULT_THUMBNAIL_SIZE}); never larger than the image` }),
  redirect: z
    .enum(["true", "false"])
    .transform((v) => v === "true")
    .optional()
    .meta({
      description: "false: answer 200 {url, expires_on, image_width, image_height} instead of the 303 (for browsers, which cannot read a redirect's Location)",
    }),
});

/** Images in one `GET /images/thumbnails` request: a page of the console's review grid. */
export const MAX_THUMBNAILS_PER_REQUEST = 100;
/** Renditions up to this size may travel inline (`data_url`) in `GET /images/thumbnails?inline=true`. */
export const INLINE_MAX_BYTES = 64 * 1024;

/** `GET /images/thumbnails?ids=&size=&inline=`: links to up to 100 images' thumbnails in one request. */
export const thumbnailsQuerySchema = z.object({
  ids: z
    .string()
    .transform((text) => text.split(",").map((part) => part.trim()))
    .pipe(
      z
        .array(
          z
            .string()
            .regex(/^[1-9][0-9]{0,14}$/, "each id is a positive integer")
            .transform(Number),
        )
        .min(1)
        .max(MAX_THUMBNAILS_PER_REQUEST, `at most ${MAX_THUMBNAILS_PER_REQUEST} ids`),
    )
    .meta({ description: `comma-separated image ids, 1-${MAX_THUMBNAILS_PER_REQUEST}` }),
  size: thumbnailQuerySchema.shape.size,
  inline: z
    .enum(["true", "false"])
    .transform((v) => v === "true")
    .optional()
    .meta({
      description: `true: each entry also carries data_url, the rendition itself (data:image/webp;base64,...) when it is at most ${INLINE_MAX_BYTES / 1024} KiB`,
    }),
});
