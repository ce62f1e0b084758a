import { z } from "zod";
import { ApiError, unprocessable } from "../errors.js";
import { labelField, LIMITS } from "./inputRules.js";
import type { StoredObject } from "./labels.js";
import { labelOutsideSchema } from "./labelSchemas.js";

const coordinate = z.number().finite();

export const objectSchema = z
  .object({
    label: labelField(),
    confidence: z.number().min(0, "confidence is between 0 and 1").max(1, "confidence is between 0 and 1").nullable().optional(),
    bounding_box: z.object({ xmin: coordinate, xmax: coordinate, ymin: coordinate, ymax: coordinate }).strict().optional(),
    polygon: z
      .array(z.tuple([coordinate, coordinate]))
      .min(3, "a polygon needs at least 3 points")
      .max(LIMITS.polygonPoints, `a polygon has at most ${LIMITS.polygonPoints} points`)
      .optional(),
  })
  .strict()
  .refine((o) => o.bounding_box !== undefined || o.polygon !== undefined, { message: "an object needs a bounding_box or a polygon" });

/**
 * `PUT /campaigns/{id}/objects`: up to 1,000 images, each with its objects. Only the shape is checked here;
 * prepareSubmission checks the objects against the campaign's images.
 */
export const submissionSchema = z
  .array(
    z
      .object({
        image_id: z.number().int().positive(),
        objects: z
          .array(objectSchema)
          .max(LIMITS.objectsPerImage, `at most ${LIMITS.objectsPerImage} objects per image`)
          .meta({
            description: `the image's objects: at most ${LIMITS.objectsPerImage}, and ${LIMITS.objectsJsonChars} characters of JSON as stored (413 beyond)`,
          }),
      })
      .strict(),
  )
  .min(1, "send at least one image")
  .max(LIMITS.imagesPerBatch, `at most ${LIMITS.imagesPerBatch} images per request`);

/** A partner's batch as the request schema parsed it. */
export type Submission = z.infer<typeof submissionSchema>;

/** An image's size in pixels: the bounds its objects' coordinates must keep to. */
export interface ImageSize {
  width: number;
  height: number;
}

/**
 * Checks every object against its image and applies the campaign's label translations; with a label schema
 * (`schema`: its class names), every label after translation must be one of them. Throws one 422 naming the
 * first offending entry (413 for an image whose objects exceed what one image may store), so a rejected batch
 * stores nothing.
 */
export function prepareSubmission(
  batch: Submission,
  sizes: ReadonlyMap<number, ImageSize>,
  translations: Readonly<Record<string, string>> | null,
  schema: ReadonlySet<string> | null = null,
): Array<{ imageId: number; objects: StoredObject[] }> {
  const seen = new Set<number>();
  return batch.map((entry, index) => {
    const where = `body[${index}]`;
    if (seen.has(entry.image_id)) throw unprocessable(`${where}.image_id: image ${entry.image_id} appears twice in this batch`);
    seen.add(entry.image_id);
    const size = sizes.get(entry.image_id);
    if (!size) throw unprocessable(`${where}.image_id: image ${entry.image_id} is not part of this campaign`);
    const objects = entry.objects.map((object, objectIndex): StoredObject => {
      const at = `${where}.objects[${objectIndex}]`;
      const box = object.bounding_box;
      if (box) {
        if (!(box.xmin < box.xmax)) throw unprocessable(`${at}.bounding_box: xmin (${box.xmin}) must be less than xmax (${box.xmax})`);
        if (!(box.ymin < box.ymax)) throw unprocessable(`${at}.bounding_box: ymin (${box.ymin}) must be less than ymax (${box.ymax})`);
        if (box.xmin < 0 || box.ymin < 0 || box.xmax > size.width || box.ymax > size.height) {
          throw unprocessable(`${at}.bounding_box: (${box.xmin}, ${box.ymin})-(${box.xmax}, ${box.ymax}) is outside the image (${size.width}x${size.height})`);
        }
      }
      object.polygon?.forEach(([x, y], pointIndex) => {
        if (x < 0 || y < 0 || x > size.width || y > size.height) {
          throw unprocessable(`${at}.polygon[${pointIndex}]: point (${x}, ${y}) is outside the image (${size.width}x${size.height})`);
        }
      });
      const label = object.label;
      const translated = translations?.[label] ?? label;
      const outside = labelOutsideSchema(label, translated, schema);
      if (outside) throw unprocessable(`${at}.label: image ${entry.image_id}: ${outside}; nothing in this batch was stored`);
      return {
        label_original: label,
        label_translated: translated,
        confidence: object.confidence ?? null,
        bounding_box: box ?? null,
        polygon: object.polygon ?? null,
      };
    });
    const stored = JSON.stringify(objects).length;
    if (stored > LIMITS.objectsJsonChars) {
      throw new ApiError(413, `${where}.objects: ${stored} characters of JSON as stored; an image's objects may hold at most ${LIMITS.objectsJsonChars}`);
    }
    return { imageId: entry.image_id, objects };
  });
}
