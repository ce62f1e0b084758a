import exifReader from "exif-reader";
import sharp, { type Metadata } from "sharp";
import { contractTimestamp } from "../domain/time.js";

/** Raster formats a labeling partner can open; sharp also reads SVG and PDF, which are not photos to label. */
const LABELABLE_FORMATS = new Set(["jpeg", "png", "webp", "gif", "tiff", "avif", "heif"]);

export interface ImageHeader {
  filetype: string;
  width: number;
  height: number;
  dateTaken: string | null;
  lat: number | null;
  lon: number | null;
}

/** A file's facts, or why it is no image to label (the copy job lists the reason in the set's `rejected_files`). */
export type HeaderResult = { ok: true; header: ImageHeader } | { ok: false; reason: string };

function gpsDegrees(parts: number[] | undefined, ref: string | undefined): number | null {
  if (!parts || parts.length < 3 || parts.some((p) => !Number.isFinite(p))) return null;
  const value = parts[0]! + parts[1]! / 60 + parts[2]! / 3600;
  return ref === "S" || ref === "W" ? -value : value;
}

function exifFacts(exif: Buffer | undefined): Pick<ImageHeader, "dateTaken" | "lat" | "lon"> {
  if (!exif) return { dateTaken: null, lat: null, lon: null };
  try {
    const tags = exifReader(exif);
    const taken = tags.Photo?.DateTimeOriginal ?? tags.Image?.DateTime;
    const date = taken instanceof Date && !Number.isNaN(taken.getTime()) ? taken : null;
    const gps = tags.GPSInfo;
    return {
      dateTaken: date ? contractTimestamp(date) : null,
      lat: gpsDegrees(gps?.GPSLatitude, gps?.GPSLatitudeRef),
      lon: gpsDegrees(gps?.GPSLongitude, gps?.GPSLongitudeRef),
    };
  } catch {
    // Broken EXIF does not make the image unusable; its facts are just unknown.
    return { dateTaken: null, lat: null, lon: null };
  }
}

/**
 * Reads type, size and EXIF facts from an image's leading bytes (headers sit at the start of every
 * format we accept), so the copy job need not download whole photos. `complete` says whether `bytes` is
 * the whole file; a header that needs more bytes than given is reported as `needsMore`.
 */
export async function readImageHeader(bytes: Buffer, complete: boolean): Promise<HeaderResult | { ok: false; needsMore: true }> {
  let metadata: Metadata;
  try {
    metadata = await sharp(bytes, { failOn: "none" }).metadata();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // An unknown signature is final; anything else on a partial read may just be a header past the prefix.
    if (!complete && !/unsupported image format/i.test(message)) return { ok: false, needsMore: true };
    return { ok: false, reason: `not a decodable image (${message})` };
  }
  const format = metadata.format ?? "unknown";
  if (!LABELABLE_FORMATS.has(format)) return { ok: false, reason: `unsupported file type ${format}` };
  if (!metadata.width || !metadata.height) {
    if (!complete) return { ok: false, needsMore: true };
    return { ok: false, reason: "image has no dimensions" };
  }
  return {
    ok: true,
    header: { filetype: format === "jpeg" ? "JPEG" : format.toUpperCase(), width: metadata.width, height: metadata.height, ...exifFacts(metadata.exif) },
  };
}
