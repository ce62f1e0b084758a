import { z } from "zod";
import { imageRefsOf } from "./imageSets.js";
import { LABEL_STATUSES, type LabelStatus } from "./labels.js";
import { jsonObjectField, translationsField } from "./inputRules.js";
import { labelSchemaField, labelsFromField, refuseBothSources } from "./labelSchemas.js";

export const CAMPAIGN_STATUSES = ["created", "active", "completed", "finishing", "finished", "finish_failed"] as const;
/** Where a campaign is in its life (see TRANSITIONS): clients request some statuses, the finishing job sets the others. */
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];

/** Statuses a client may ask for. `finishing` and `finish_failed` are set by the finishing job. */
export const REQUESTABLE_STATUSES = ["active", "completed", "finished"] as const;
export type RequestedStatus = (typeof REQUESTABLE_STATUSES)[number];

/**
 * The campaign state machine. `finished` is requested from `completed` (or from `finish_failed` to try
 * again) and shows as `finishing` until the finishing job has written every output.
 */
const TRANSITIONS: Record<CampaignStatus, ReadonlyArray<RequestedStatus>> = {
  created: ["active"],
  active: ["completed"],
  completed: ["active", "finished"],
  finishing: [],
  finished: [],
  finish_failed: ["finished"],
};

/** Whether a client may move a campaign from `from` to `to`; any other known status is a conflict (409). */
export function canTransition(from: CampaignStatus, to: CampaignStatus): to is RequestedStatus {
  return (TRANSITIONS[from] as ReadonlyArray<CampaignStatus>).includes(to);
}

/** The status stored right after an accepted request. */
export function statusAfterRequest(to: RequestedStatus): CampaignStatus {
  return to === "finished" ? "finishing" : to;
}

/** Whether a campaign takes partners' objects: only while `active` (otherwise a submission is a 409). */
export const acceptsSubmissions = (status: CampaignStatus) => status === "active";
/** Whether images may be added to a campaign: only while `created`, before labeling starts. */
export const acceptsImages = (status: CampaignStatus) => status === "created";

/**
 * Whether the campaign's labeling partner may still list and fetch its images. Access ends once
 * finishing is requested: the labels are final and the label set is being (or has been) written.
 */
export const partnerMayAccess = (status: CampaignStatus) => status !== "finishing" && status !== "finished" && status !== "finish_failed";

/** Campaign titles name files and Azure ML data assets, so they keep to those characters. */
export function campaignTitleProblem(title: string): string | null {
  if (title.length < 1 || title.length > 200) return "title must be 1 to 200 characters long";
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(title)) return "title may only hold letters, digits, '.', '_' and '-', and must start with a letter or digit";
  return null;
}

/**
 * `POST /campaigns`. The title is checked by campaignTitleProblem when the campaign is created (a 422 as well).
 * `labels` declares the label schema, or `labels_from` copies another campaign's (not both).
 */
export const createCampaignSchema = z
  .object({
    title: z.string(),
    labeler_email: z.string().trim().email("labeler_email must be an e-mail address").max(256),
    metadata: jsonObjectField("metadata"),
    label_translations: translationsField(),
    labels: labelSchemaField(),
    labels_from: labelsFromField(),
  })
  .strict()
  .superRefine(refuseBothSources);

/**
 * Adding images to a campaign: up to 10,000 are added while the request waits; a larger addition (up to
 * 100,000 per request) runs as a background job the request answers with.
 */
export const INLINE_ADDITION = 10_000;
/** `POST /campaigns/{id}/images`: up to 100,000 image references per request, at most 10,000 of them by filepath. */
export const campaignImageRefsSchema = imageRefsOf(100_000);

/**
 * `PUT /campaigns/{id}`: a status change, or (while the campaign is created) a new label schema, `labels` or
 * `labels_from`, in a request of its own. Any known status parses (an illegal transition to it is a 409); a value
 * that is not a status is a 422.
 */
export const updateCampaignSchema = z
  .object({ new_status: z.enum(CAMPAIGN_STATUSES).optional(), labels: labelSchemaField(), labels_from: labelsFromField() })
  .strict()
  .superRefine((body, ctx) => {
    refuseBothSources(body, ctx);
    const schemaChange = body.labels !== undefined || body.labels_from !== undefined;
    if (schemaChange && body.new_status !== undefined)
      ctx.addIssue({ code: "custom", path: ["new_status"], message: "change the labels and the status in separate requests" });
    if (!schemaChange && body.new_status === undefined)
      ctx.addIssue({ code: "custom", path: ["new_status"], message: "send new_status, or labels or labels_from (while the campaign is created)" });
  });

/** `PUT /campaigns/{id}/review`: up to 1,000 images approved or rejected at once; a rejection needs a comment for the partner. */
export const reviewSchema = z
  .object({
    image_ids: z.array(z.number().int().positive()).min(1).max(1000),
    decision: z.enum(["approve", "reject"]),
    comment: z.string().max(2000).optional(),
  })
  .strict()
  .refine((r) => r.decision !== "reject" || (r.comment ?? "").trim() !== "", { message: "a rejection needs a comment for the partner", path: ["comment"] });

/** `PUT /campaigns/{id}/test_data`: marks up to 1,000 images as test data, or clears the mark. */
export const testDataSchema = z.object({ image_ids: z.array(z.number().int().positive()).min(1).max(1000), test_data: z.boolean() }).strict();

/** A review filter on a campaign's images: some review states, and/or the test split. */
export interface ImageFilter {
  labelStatus?: LabelStatus[];
  testData?: boolean;
}

/** `?label_status=a,b&test_data=true|false` on a campaign's image and object lists. */
export const imageFilterQuerySchema = z.object({
  label_status: z
    .string()
    .transform((s) =>
      s
        .split(",")
        .map((p) => p.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.enum(LABEL_STATUSES)).min(1))
    .optional(),
  test_data: z
    .enum(["true", "false"])
    .transform((v) => v === "true")
    .optional(),
});

/** The parsed query as the campaign repository's filter (a parameter left out filters nothing). */
export function toImageFilter(query: z.infer<typeof imageFilterQuerySchema>): ImageFilter {
  return { labelStatus: query.label_status, testData: query.test_data };
}

/** `?campaigns=1,2` on `GET /images/{id}/objects`: the campaigns to look in, in order. */
export const imageObjectsQuerySchema = z.object({
  campaigns: z
    .string()
    .regex(/^\s*[1-9][0-9]*(\s*,\s*[1-9][0-9]*)*\s*$/, "campaigns is a comma-separated list of campaign ids")
    .transform((s) => s.split(",").map((p) => Number(p.trim())))
    .optional(),
});
