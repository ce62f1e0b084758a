import { z } from "zod";
import { LIMITS, relativePathField, SUFFIX_CHARACTERS, suffixProblem } from "./inputRules.js";
import type { LabelStatus } from "./labels.js";
import { contractTimestamp } from "./time.js";

/** The file formats an export job writes. */
export const EXPORT_FORMATS = ["csv", "json", "coco", "yolo", "voc"] as const;
/** A file format an export job writes (masks, rendered per image, are a JobFormat only). */
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Masks are an export too: rendered per image by workers, offered as one zip. */
export const JOB_FORMATS = [...EXPORT_FORMATS, "masks"] as const;
/** Any `format` an export request may ask for: a file format or `masks`. */
export type JobFormat = (typeof JOB_FORMATS)[number];

/** The `gt_mode` values a mask export may ask for; shared/masks/modes.ts renders each one. */
export const GT_MODE_NAMES = ["filled_polygon", "polygon_edge", "center_dot", "filled_polygon_instances", "filled_semantic"] as const;

/** `YYYY-MM-DD` or `YYYY-MM-DD hh:mm:ss` (UTC), as S3Label and Labelbox clients send them. */
const DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}):(\d{2}))?$/;

function parseDate(value: string, ctx: z.RefinementCtx): { at: string; dateOnly: boolean } {
  const m = DATE.exec(value.trim());
  const date = m ? new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0))) : undefined;
  const exact =
    date &&
    m &&
    date.getUTCFullYear() === +m[1]! &&
    date.getUTCMonth() === +m[2]! - 1 &&
    date.getUTCDate() === +m[3]! &&
    +(m[4] ?? 0) < 24 &&
    +(m[5] ?? 0) < 60 &&
    +(m[6] ?? 0) < 60;
  if (!m || !date || Number.isNaN(date.getTime()) || !exact) {
    ctx.addIssue({ code: "custom", message: "dates are YYYY-MM-DD or YYYY-MM-DD hh:mm:ss (UTC)" });
    return { at: "", dateOnly: true };
  }
  return { at: date.toISOString(), dateOnly: m[4] === undefined };
}

const dateField = z.string().transform(parseDate);
/** S3Label sends booleans as strings; accept both. */
const booleanField = z.union([z.boolean(), z.enum(["true", "false"]).transform((v) => v === "true")]);

/** Which review states an export or label list takes (see labelStatusesFor); requests default to `admin_complete`. */
export const labelStatusFilterSchema = z.enum(["admin_complete", "user_complete", "all"]);
/** One of `admin_complete`, `user_complete` or `all` (see labelStatusesFor). */
export type LabelStatusFilter = z.infer<typeof labelStatusFilterSchema>;

const filterFields = {
  label_status: labelStatusFilterSchema.default("admin_complete"),
  test_data: booleanField.optional(),
  start: dateField.optional(),
  end: dateField.optional(),
  last_activity_start: dateField.optional(),
  last_activity_end: dateField.optional(),
};

/** Downloads live under this prefix of the export container; mask output folders may not use it. */
export const DOWNLOADS_PREFIX = "downloads";

/** Why `folder` (a valid relative path) may not be a mask output folder, or null: `downloads/` holds the export files. */
export function outputFolderProblem(folder: string): string | null {
  return folder.split("/")[0] === DOWNLOADS_PREFIX ? `may not be or start with ${DOWNLOADS_PREFIX}/ (reserved for export files)` : null;
}

/**
 * The proper ancestors of a folder, nearest last: `a/b/c` -> `a`, `a/b`. Two mask output folders share files when
 * they are equal or one is an ancestor of the other (`gt` and `gt/run1`); blob names are case-sensitive and a
 * folder is listed as `<folder>/`, so `gt/run1` and `gt/run10` (or `GT`) are apart.
 */
export function folderAncestors(folder: string): string[] {
  const segments = folder.split("/");
  return segments.slice(0, -1).map((_, i) => segments.slice(0, i + 1).join("/"));
}

export const maskOptionsFields = {
  output_folder: relativePathField("output_folder")
    .superRefine((folder, ctx) => {
      const problem = outputFolderProblem(folder);
      if (problem) ctx.addIssue({ code: "custom", message: `output_folder ${problem}` });
    })
    .meta({
      description:
        `output_folder: a folder of the export container of its own for this job: a relative path of '/'-separated segments, ` +
        `1-${LIMITS.pathLength} characters, no '.'/'..' segments, backslashes, control characters or percent-escapes, ` +
        `not under ${DOWNLOADS_PREFIX}/; a folder that another mask export uses, or one around or inside it, is refused with 409`,
    }),
  suffix: z
    .string()
    .superRefine((suffix, ctx) => {
      const problem = suffixProblem(suffix);
      if (problem) ctx.addIssue({ code: "custom", message: `suffix ${problem}` });
    })
    .default("_gt")
    .meta({
      description: `suffix: 1-${LIMITS.suffixLength} characters of letters, digits, '.', '_' and '-' (default _gt)`,
      minLength: 1,
      maxLength: LIMITS.suffixLength,
      pattern: SUFFIX_CHARACTERS.source,
    }),
  gt_mode: z.enum(GT_MODE_NAMES),
};

/** `POST /campaigns/{id}/exports`: a format, the filters, and for `masks` (only) its output folder, suffix and GT mode. */
export const exportRequestSchema = z
  .object({
    format: z.enum(JOB_FORMATS),
    ...filterFields,
    output_folder: maskOptionsFields.output_folder.optional(),
    suffix: maskOptionsFields.suffix.optional(),
    gt_mode: maskOptionsFields.gt_mode.optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    if (body.format === "masks" && (!body.output_folder || !body.gt_mode)) {
      ctx.addIssue({ code: "custom", message: "a masks export needs output_folder and gt_mode", path: ["output_folder"] });
    }
    if (body.format !== "masks" && (body.output_folder || body.gt_mode)) {
      ctx.addIssue({ code: "custom", message: "output_folder, suffix and gt_mode belong to format masks", path: ["format"] });
    }
  });

/** `PUT /campaigns/{id}/label_images` as in seed 000, but with a blob prefix instead of a server disk path. */
export const labelImagesRequestSchema = z
  .object({
    ...maskOptionsFields,
    test_data: booleanField.optional(),
    label_status: z.enum(["admin_complete", "user_complete"]).default("admin_complete"),
  })
  .strict();

/** `POST /campaigns/{id}/latest_labels` (S3Label's call): the status filter, the test split (`test_images`) and a page of up to 1,000. */
export const latestLabelsRequestSchema = z
  .object({
    label_status: labelStatusFilterSchema.default("admin_complete"),
    test_images: booleanField.optional(),
    page: z.number().int().min(1).default(1),
    per_page: z.number().int().min(1).max(1000).default(100),
  })
  .strict();

type DateBound = { at: string; dateOnly: boolean };

/**
 * Stored export filters. Bounds are timestamps in the contract's format (`YYYY-MM-DDThh:mm:ss.ffffffZ`, as the
 * campaign image rows store `firstLabeledAt` and `lastActivityAt`), because the table compares them as strings;
 * the end is exclusive (a date-only end covers that whole day, a time end that second).
 */
export interface ExportFilter {
  labelStatus: LabelStatus[] | null;
  testData?: boolean;
  labeledFrom?: string;
  labeledBefore?: string;
  activityFrom?: string;
  activityBefore?: string;
}

/** A bound as stored: the contract's timestamp, so a row stamped exactly at the bound compares equal. */
export const filterBound = (at: string | Date) => contractTimestamp(new Date(at));
const exclusiveEnd = (bound: DateBound) => filterBound(new Date(new Date(bound.at).getTime() + (bound.dateOnly ? 86_400_000 : 1000)));

/**
 * The statuses a filter keeps: `admin_complete` only approved images, `user_complete` the partner's labels
 * whether approved or not, `all` null (no status filter: unlabeled and rejected images too).
 */
export function labelStatusesFor(filter: LabelStatusFilter): LabelStatus[] | null {
  if (filter === "all") return null;
  return filter === "admin_complete" ? ["admin_complete"] : ["user_complete", "admin_complete"];
}

/** A request's validated filters as stored with the export (dates become the contract's timestamps, ends exclusive). */
export function toExportFilter(body: {
  label_status: LabelStatusFilter;
  test_data?: boolean;
  start?: DateBound;
  end?: DateBound;
  last_activity_start?: DateBound;
  last_activity_end?: DateBound;
}): ExportFilter {
  return {
    labelStatus: labelStatusesFor(body.label_status),
    ...(body.test_data !== undefined ? { testData: body.test_data } : {}),
    ...(body.start ? { labeledFrom: filterBound(body.start.at) } : {}),
    ...(body.end ? { labeledBefore: exclusiveEnd(body.end) } : {}),
    ...(body.last_activity_start ? { activityFrom: filterBound(body.last_activity_start.at) } : {}),
    ...(body.last_activity_end ? { activityBefore: exclusiveEnd(body.last_activity_end) } : {}),
  };
}
