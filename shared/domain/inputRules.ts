/**
 * The rules for everything that comes from outside: names (dropbox blob names, `filepath`,
 * `output_folder`, `suffix`), labels, and JSON-valued fields (`metadata`, `label_translations`).
 * Each rule lives here once; request schemas, the copy job and the mask job all call these, and the
 * README and the OpenAPI document state the same limits.
 *
 * The limits are chosen so that a valid value always fits Azure Table storage (a string property holds
 * at most 64 KiB, i.e. 32K UTF-16 code units; an entity at most 1 MiB) and Blob storage (a blob name
 * at most 1,024 characters), so a request that passes validation never fails on a storage limit.
 */
import { z } from "zod";

/** Every size and count limit on outside input, in one place (the README and the OpenAPI document quote them). */
export const LIMITS = {
  /** Characters in a relative path: a dropbox blob name, `filepath`, `output_folder`. */
  pathLength: 512,
  /** Characters in one `/`-separated segment of a path. */
  segmentLength: 255,
  /** Segments in a path. */
  pathDepth: 32,
  /** Characters in a label (after trimming) and in each side of a label translation. */
  labelLength: 256,
  /** Entries in `label_translations`. */
  translations: 1_000,
  /** UTF-8 bytes of a JSON-valued field (`metadata`, `label_translations`) as stored. */
  jsonFieldBytes: 16 * 1024,
  /** Nesting of a JSON-valued field: `{"a": 1}` is 1, `{"a": {"b": [1]}}` is 3. */
  jsonFieldDepth: 20,
  /** Nesting of any request body (checked on the raw text, before parsing). */
  bodyDepth: 64,
  /** Points in one polygon. */
  polygonPoints: 10_000,
  /** Objects on one image. */
  objectsPerImage: 5_000,
  /** Images in one `PUT /campaigns/{id}/objects` request. */
  imagesPerBatch: 1_000,
  /**
   * UTF-16 code units of one image's objects as stored JSON (about 420 KB of ASCII JSON, or some 17,000
   * polygon points at pixel precision with decimals). Stored twice (current labels and history), each in
   * its own entity, so each copy stays well under the 1 MiB entity limit.
   */
  objectsJsonChars: 420_000,
  /** Characters in a mask `suffix`. */
  suffixLength: 64,
  /** Classes in a campaign's label schema (`labels`). */
  labelSchemaClasses: 1_000,
  /**
   * UTF-8 bytes of a label schema's JSON as stored (`[{"name":…,"color":…}]`): one table property (64 KiB) holds it,
   * and a mask job's class list (the names alone) still fits its options column beside the filters.
   */
  labelSchemaBytes: 24 * 1024,
} as const;

/** C0 and C1 control characters and DEL: never valid in a name or a label. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** Something that reads as a percent-escape: names are used literally and never decoded, so it would mean two things. */
const PERCENT_ESCAPE = /%[0-9A-Fa-f]{2}/;
const UNPAIRED_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function codePoint(char: string): string {
  return `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
}

/**
 * Why `value` is not a safe relative path, or null when it is. A safe path is 1 to 512 characters of
 * at most 32 segments separated by `/`, each segment 1 to 255 characters and not `.` or `..`; it has no
 * leading, trailing or doubled `/`, no backslash, no control character, no unpaired surrogate, no
 * percent-escape such as `%2E` (names are taken literally, never decoded), and does not end with a dot
 * (Blob storage drops trailing dots from URLs). Such a path can be appended to a folder without ever
 * leaving it, whatever URL parser or file system later sees it.
 */
export function relativePathProblem(value: string): string | null {
  if (value.length === 0) return "is empty";
  if (value.length > LIMITS.pathLength) return `is longer than ${LIMITS.pathLength} characters`;
  const control = CONTROL.exec(value);
  if (control) return `holds the control character ${codePoint(control[0])}`;
  if (UNPAIRED_SURROGATE.test(value)) return "holds an unpaired UTF-16 surrogate";
  if (value.includes("\\")) return "holds a backslash; separate folders with '/'";
  const escape = PERCENT_ESCAPE.exec(value);
  if (escape) return `holds the percent-escape ${escape[0]}; names are used as they are, never decoded`;
  if (value.startsWith("/")) return "starts with '/'";
  if (value.endsWith("/")) return "ends with '/'";
  const segments = value.split("/");
  if (segments.length > LIMITS.pathDepth) return `has more than ${LIMITS.pathDepth} segments`;
  for (const segment of segments) {
    if (segment === "") return "holds an empty segment ('//')";
    if (segment === "." || segment === "..") return `holds a '${segment}' segment`;
    if (segment.length > LIMITS.segmentLength) return `has a segment longer than ${LIMITS.segmentLength} characters`;
  }
  if (value.endsWith(".")) return "ends with a dot";
  return null;
}

declare const relativePathBrand: unique symbol;
/** A path that passed `relativePathProblem`: the only kind of name storage helpers accept from outside. */
export type RelativePath = string & { readonly [relativePathBrand]: true };

/** The path, typed as validated; throws a RangeError naming the problem otherwise (for code paths that validated already). */
export function asRelativePath(value: string, what = "path"): RelativePath {
  const problem = relativePathProblem(value);
  if (problem) throw new RangeError(`${what} ${JSON.stringify(value.slice(0, 100))} ${problem}`);
  return value as RelativePath;
}

/** Characters a mask `suffix` may hold. */
export const SUFFIX_CHARACTERS = /^[A-Za-z0-9._-]+$/;

/**
 * Why a mask `suffix` is not acceptable, or null. A suffix is 1 to 64 characters of ASCII letters, digits, '.',
 * '_' and '-'. It may not be empty: `<name><suffix>.png` would then be the copy of a PNG image itself.
 */
export function suffixProblem(suffix: string): string | null {
  if (suffix.length === 0) return "must not be empty (the mask <name><suffix>.png would overwrite the copy of <name>.png)";
  if (suffix.length > LIMITS.suffixLength) return `is longer than ${LIMITS.suffixLength} characters`;
  if (!SUFFIX_CHARACTERS.test(suffix)) return "may only hold letters, digits, '.', '_' and '-'";
  return null;
}

/** Why a label (already trimmed) is not acceptable, or null: 1 to 256 characters, no control characters, well-formed Unicode. */
export function labelProblem(label: string): string | null {
  if (label.length === 0) return "must not be empty";
  if (label.length > LIMITS.labelLength) return `is longer than ${LIMITS.labelLength} characters`;
  const control = CONTROL.exec(label);
  if (control) return `holds the control character ${codePoint(control[0])}`;
  if (UNPAIRED_SURROGATE.test(label)) return "holds an unpaired UTF-16 surrogate";
  return null;
}

/** Nesting depth of a parsed JSON value: a scalar is 0, `[]` and `{}` are 1. */
export function jsonDepth(value: unknown, limit = Infinity): number {
  // Iterative, so a hostile value cannot overflow the stack; stops early once past `limit`.
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== "object") continue;
    const here = depth + 1;
    if (here > deepest) deepest = here;
    if (deepest > limit) return deepest;
    for (const child of Array.isArray(node) ? node : Object.values(node)) stack.push([child, here]);
  }
  return deepest;
}

/** Nesting depth of raw JSON text, counted without parsing (brackets outside strings). */
export function jsonTextDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) deepest = Math.max(deepest, ++depth);
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
}

/** Why a JSON-valued field cannot be stored, or null: at most 16 KiB of UTF-8 JSON, nested at most 20 deep. */
export function jsonFieldProblem(value: unknown): string | null {
  const depth = jsonDepth(value, LIMITS.jsonFieldDepth);
  if (depth > LIMITS.jsonFieldDepth) return `nests deeper than ${LIMITS.jsonFieldDepth} levels`;
  const bytes = Buffer.byteLength(JSON.stringify(value) ?? "null", "utf8");
  if (bytes > LIMITS.jsonFieldBytes) return `is ${bytes} bytes of JSON; at most ${LIMITS.jsonFieldBytes} are stored`;
  return null;
}

/** Adds a zod issue for each problem; the message names the rule. */
const refineWith =
  (problem: (value: string) => string | null, what: string) =>
  (value: string, ctx: z.RefinementCtx): void => {
    const reason = problem(value);
    if (reason) ctx.addIssue({ code: "custom", message: `${what} ${reason}` });
  };

/** A relative path field (`filepath`, `output_folder`); leading and trailing slashes are forgiven and dropped. */
export const relativePathField = (what: string) =>
  z
    .string()
    .max(LIMITS.pathLength + 2)
    .transform((value) => value.replace(/^\/|\/$/g, ""))
    .superRefine(refineWith(relativePathProblem, what))
    .meta({
      description: `${what}: a relative path of '/'-separated segments, 1-${LIMITS.pathLength} characters, no '.'/'..' segments, backslashes, control characters or percent-escapes`,
    });

/** A label: trimmed, 1 to 256 characters, no control characters. */
export const labelField = (what = "label") =>
  z
    .string()
    .max(LIMITS.labelLength * 4)
    .transform((value) => value.trim())
    .superRefine(refineWith(labelProblem, what))
    .meta({ description: `${what}: 1-${LIMITS.labelLength} characters after trimming, no control characters` });

/** A JSON-valued field: an object of at most 16 KiB of JSON nested at most 20 deep, or null. */
export const jsonObjectField = (what: string) =>
  z
    .record(z.string(), z.unknown())
    .superRefine((value, ctx) => {
      const reason = jsonFieldProblem(value);
      if (reason) ctx.addIssue({ code: "custom", message: `${what} ${reason}` });
    })
    .nullable()
    .optional()
    .meta({ description: `${what}: a JSON object of at most ${LIMITS.jsonFieldBytes} bytes, nested at most ${LIMITS.jsonFieldDepth} levels` });

/**
 * `label_translations`: partner label -> our label, both sides labels (trimmed, 1-256 characters, no
 * control characters), at most 1,000 entries and 16 KiB of JSON.
 */
export const translationsField = () =>
  z
    .record(z.string(), z.string())
    .transform((value) => Object.fromEntries(Object.entries(value).map(([from, to]) => [from.trim(), to.trim()])))
    .superRefine((value, ctx) => {
      const entries = Object.entries(value);
      if (entries.length > LIMITS.translations) ctx.addIssue({ code: "custom", message: `label_translations holds more than ${LIMITS.translations} entries` });
      for (const [from, to] of entries.slice(0, LIMITS.translations)) {
        const reason = labelProblem(from) ?? labelProblem(to);
        if (reason) {
          ctx.addIssue({ code: "custom", path: [from], message: `label_translations entry ${JSON.stringify(from.slice(0, 40))}: label ${reason}` });
          return;
        }
      }
      const bytes = Buffer.byteLength(JSON.stringify(value), "utf8");
      if (bytes > LIMITS.jsonFieldBytes)
        ctx.addIssue({ code: "custom", message: `label_translations is ${bytes} bytes of JSON; at most ${LIMITS.jsonFieldBytes} are stored` });
    })
    .nullable()
    .optional()
    .meta({
      description: `label_translations: partner label -> label, both 1-${LIMITS.labelLength} characters without control characters; at most ${LIMITS.translations} entries and ${LIMITS.jsonFieldBytes} bytes of JSON`,
    });
