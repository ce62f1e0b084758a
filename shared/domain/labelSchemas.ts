/**
 * Label schemas: a campaign's fixed, ordered list of classes. The order is the class id in every output
 * (COCO category ids, YOLO class indices, semantic mask values, the `class_id` of the label set CSV), so two
 * exports of one campaign, or of two campaigns with the same schema, number classes identically, including
 * classes no object uses. Names follow the label rule (inputRules.ts) and are compared exactly, as labels are
 * everywhere else (case-sensitive: `Car` and `car` are two classes, as they are two labels).
 */
import { z } from "zod";
import { labelField, LIMITS } from "./inputRules.js";

/** One class of a schema: its name (a label after translation) and an optional display colour `#rrggbb` (lowercase). */
export interface LabelClass {
  name: string;
  color: string | null;
}

/** A display colour: `#` and six hex digits (either case on input; stored lowercase). */
const COLOR = /^#[0-9A-Fa-f]{6}$/;

/** The class id of the class at `index` in its schema: 1-based (COCO category id, mask value, `class_id`); YOLO's index is `id - 1`. */
export const classIdAt = (index: number) => index + 1;

/** The schema as stored: a JSON array, `color` left out when there is none (what the byte limit counts). */
export function storedLabelSchema(classes: readonly LabelClass[]): string {
  return JSON.stringify(classes.map((c) => (c.color ? { name: c.name, color: c.color } : { name: c.name })));
}

/** A stored schema read back; null for none (an empty or unreadable column). */
export function parseStoredLabelSchema(text: unknown): LabelClass[] | null {
  if (typeof text !== "string" || text === "") return null;
  try {
    const parsed: unknown = JSON.parse(text);
    if (!Array.isArray(parsed)) return null;
    return parsed.flatMap((entry: unknown) => {
      const { name, color } = (entry ?? {}) as { name?: unknown; color?: unknown };
      return typeof name === "string" ? [{ name, color: typeof color === "string" ? color : null }] : [];
    });
  } catch {
    return null;
  }
}

/**
 * Why a list of classes (names already checked by the label rule) cannot be a schema, or null: 1 to 1,000
 * classes, unique names (compared exactly), at most 24 KiB of JSON as stored. `index` names the offending entry.
 */
export function labelSchemaProblem(classes: readonly LabelClass[]): { message: string; index?: number } | null {
  if (classes.length === 0) return { message: "labels needs at least one class (send null for no schema)" };
  if (classes.length > LIMITS.labelSchemaClasses) return { message: `labels holds ${classes.length} classes; at most ${LIMITS.labelSchemaClasses}` };
  const seen = new Map<string, number>();
  for (const [index, { name }] of classes.entries()) {
    const first = seen.get(name);
    if (first !== undefined)
      return { index, message: `${JSON.stringify(name.slice(0, 60))} repeats labels[${first}].name; names are unique (compared exactly, case-sensitive)` };
    seen.set(name, index);
  }
  const bytes = Buffer.byteLength(storedLabelSchema(classes), "utf8");
  if (bytes > LIMITS.labelSchemaBytes) return { message: `labels is ${bytes} bytes of JSON as stored; at most ${LIMITS.labelSchemaBytes}` };
  return null;
}

const labelClassSchema = z
  .object({
    name: labelField("name"),
    color: z.string().max(16).regex(COLOR, "color is '#' and six hex digits (#rrggbb)").nullable().optional(),
  })
  .strict();

/**
 * `labels` of a campaign request: `[{name, color?}]` in class order, or null for no schema. Names are trimmed
 * and follow the label rule; see labelSchemaProblem for the list's own limits.
 */
export const labelSchemaField = () =>
  z
    .array(labelClassSchema)
    .max(LIMITS.labelSchemaClasses, `labels holds at most ${LIMITS.labelSchemaClasses} classes`)
    .transform((items): LabelClass[] => items.map((item) => ({ name: item.name, color: item.color ? item.color.toLowerCase() : null })))
    .superRefine((classes, ctx) => {
      const problem = labelSchemaProblem(classes);
      if (problem) ctx.addIssue({ code: "custom", path: problem.index === undefined ? [] : [problem.index, "name"], message: problem.message });
    })
    .nullable()
    .optional()
    .meta({
      description:
        `labels: the campaign's classes in class-id order, [{name, color?}]; names are labels (1-${LIMITS.labelLength} characters, no control characters), ` +
        `unique (compared exactly), color '#rrggbb'; 1-${LIMITS.labelSchemaClasses} classes and at most ${LIMITS.labelSchemaBytes} bytes of JSON as stored; null for none. ` +
        "Only while the campaign is created",
    });

/** `labels_from`: the id of a campaign whose schema is copied (it must exist and have one). */
export const labelsFromField = () =>
  z
    .number()
    .int()
    .positive()
    .optional()
    .meta({ description: "labels_from: copy the label schema of this campaign (422 when it does not exist or has none); not together with labels" });

/** Adds the issue for a request that sends both `labels` and `labels_from`. */
export function refuseBothSources(body: { labels?: unknown; labels_from?: unknown }, ctx: z.RefinementCtx): void {
  if (body.labels !== undefined && body.labels_from !== undefined)
    ctx.addIssue({ code: "custom", path: ["labels_from"], message: "send labels or labels_from, not both" });
}

/** The class names of a schema in class order (what exporters and the mask legend number), or undefined without one. */
export const schemaClassNames = (classes: readonly LabelClass[] | null): string[] | undefined => classes?.map((c) => c.name);

/**
 * Why an object's label (after translation) is outside the campaign's schema, or null when it is inside (or the
 * campaign has none). The message names the label as sent and, when translated, what it became.
 */
export function labelOutsideSchema(original: string, translated: string, schema: ReadonlySet<string> | null): string | null {
  if (!schema || schema.has(translated)) return null;
  const shown = original === translated ? JSON.stringify(original) : `${JSON.stringify(original)} (translated to ${JSON.stringify(translated)})`;
  return `label ${shown} is not one of the campaign's labels`;
}
