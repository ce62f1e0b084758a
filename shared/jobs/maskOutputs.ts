import { imageRef, StatsCollector, UniqueNamer, withoutExtension, type NamedImage } from "../export/formats/common.js";
import { safeEntryPath } from "../export/zip.js";
import type { GtMode } from "../masks/modes.js";
import type { ExportRecord } from "../repos/exports.js";
import { exportOptions } from "./exports.js";

/**
 * What the three stages of a mask export share: the job's options as stored, and the names of its outputs. The
 * plan stage decides the names, each render writes one image's outputs under them, and the zip packs the folder.
 */

export interface MaskJobOptions {
  outputFolder: string;
  suffix: string;
  gtMode: GtMode;
  /**
   * Class labels of the whole campaign, values 1..n of filled_semantic: its label schema in order, or without one
   * the translated labels its objects use, sorted by code point. Set by the plan.
   */
  classLabels?: string[];
}

export const maskOptions = (record: ExportRecord) => exportOptions(record).masks as MaskJobOptions;

/** The job's class legend, at the root of its output folder. */
export const LEGEND_NAME = "legend.json";
/** Blob Storage's limit on a blob name. */
const MAX_BLOB_NAME = 1024;

/** One image's three outputs, relative to the output folder. */
export interface MaskOutputNames {
  /** The server-side copy of the image: its path, extension kept. */
  image: string;
  /** `<stem><suffix>.png` */
  mask: string;
  /** `<stem><suffix>.json` */
  legend: string;
}

/** The outputs for an image stem (its path without extension, `__<id>` appended when renamed). */
export function maskOutputNames(stem: string, extension: string, suffix: string): MaskOutputNames {
  return { image: `${stem}${extension}`, mask: `${stem}${suffix}.png`, legend: `${stem}${suffix}.json` };
}

const nameList = (names: MaskOutputNames) => [names.image, names.mask, names.legend];

/**
 * An image's outputs as the renderer writes them: the default names mirror the image's path under the output
 * folder; `renamedStem` is the stem the plan stored for an image it had to rename. Undefined when the path
 * cannot be a file name (the plan skips such images).
 */
export function maskImageNames(blobPath: string, suffix: string, renamedStem?: string): MaskOutputNames | undefined {
  const path = safeEntryPath(blobPath);
  if (path === null) return undefined;
  const stem = withoutExtension(path);
  return maskOutputNames(renamedStem ?? stem, path.slice(stem.length), suffix);
}

/**
 * Decides the output names of one mask job, image by image in id order: all names of the job (three per image,
 * plus legend.json) are one namespace compared ignoring case, since the zip is unpacked on case-insensitive file
 * systems too. A clash renames the later image's stem by the exporters' rule (`<stem>__<imageId>`, then `_2`, ...)
 * with the same warning. Returns null (with a warning) for an image that cannot be written.
 */
export class MaskNamer {
  private readonly namer: UniqueNamer;

  constructor(
    private readonly outputFolder: string,
    private readonly suffix: string,
    private readonly stats: StatsCollector,
  ) {
    this.namer = new UniqueNamer(stats, { caseInsensitive: true, reserved: [LEGEND_NAME] });
  }

  claim(image: NamedImage): { names: MaskOutputNames; renamedStem?: string } | null {
    const claimed = this.namer.claim(image, (stem, extension) => nameList(maskOutputNames(stem, extension, this.suffix)));
    if (!claimed) return null;
    const names = maskOutputNames(claimed.stem, claimed.extension, this.suffix);
    const longest = Math.max(...nameList(names).map((name) => this.outputFolder.length + 1 + name.length));
    if (longest > MAX_BLOB_NAME) {
      this.stats.warn(`${imageRef(image)}: skipped: its output names would be longer than the ${MAX_BLOB_NAME} characters a blob name may have`);
      return null;
    }
    return claimed.renamed ? { names, renamedStem: claimed.stem } : { names };
  }
}
