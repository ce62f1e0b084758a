import { z } from "zod";
import type { Principal } from "../auth.js";
import {
  acceptsImages,
  acceptsSubmissions,
  campaignTitleProblem,
  canTransition,
  statusAfterRequest,
  type RequestedStatus,
} from "../domain/campaigns.js";
import type { ImageRef } from "../domain/imageSets.js";
import { LABEL_STATUSES, type LabelStatus, type StoredObject } from "../domain/labels.js";
import { prepareSubmission, type ImageSize, type Submission } from "../domain/submissions.js";
import { contractTimestamp } from "../domain/time.js";
import { conflict, errorMessage, notFound, unavailable, unprocessable } from "../errors.js";
import type { CampaignImage, CampaignRecord, ImageFilter } from "../repos/campaigns.js";
import type { Services } from "../services.js";
import { mapLimit } from "../util/concurrency.js";
import { resolveImageRefs } from "./imageSets.js";

/** The contract's campaign object. */
export async function campaignView(services: Services, campaign: CampaignRecord) {
  const progress = await services.campaigns.progress(campaign.campaignId);
  return {
    campaign_id: campaign.campaignId,
    title: campaign.title,
    status: campaign.status,
    metadata: campaign.metadata,
    label_translations: campaign.labelTranslations,
    progress,
    created_by: campaign.createdBy,
    date_created: campaign.dateCreated,
    date_started: campaign.dateStarted,
    date_completed: campaign.dateCompleted,
    date_finished: campaign.dateFinished,
    finish_error: campaign.finishError,
    finish_notes: campaign.finishNotes,
  };
}

/** An object as the API shows it: the contract's `label` is what the partner sent. */
export function objectView(object: StoredObject) {
  return {
    label: object.label_original,
    label_original: object.label_original,
    label_translated: object.label_translated,
    confidence: object.confidence,
    bounding_box: object.bounding_box,
    ...(object.polygon ? { polygon: object.polygon } : {}),
  };
}

export function campaignImageView(image: CampaignImage, withObjects: boolean) {
  return {
    image_id: image.imageId,
    url: `/images/${image.imageId}`,
    label_status: image.labelStatus,
    test_data: image.testData,
    review_comment: image.reviewComment,
    last_activity: image.lastActivityAt,
    ...(withObjects ? { objects: image.objects.map(objectView) } : {}),
  };
}

export async function getCampaign(services: Services, campaignId: number): Promise<CampaignRecord> {
  const campaign = await services.campaigns.get(campaignId);
  if (!campaign) throw notFound(`campaign ${campaignId} does not exist`);
  return campaign;
}

/** A campaign a principal may use: admins any, labelers only their own (others look absent: 404). */
export async function getCampaignFor(services: Services, principal: Principal, campaignId: number): Promise<CampaignRecord> {
  if (principal.role !== "image-admin" && !(await services.users.hasCampaign(principal.apikey, campaignId))) {
    throw notFound(`campaign ${campaignId} does not exist`);
  }
  return getCampaign(services, campaignId);
}

export async function createCampaign(
  services: Services,
  principal: Principal,
  input: { title: string; labeler_email: string; metadata?: Record<string, unknown> | null; label_translations?: Record<string, string> | null },
) {
  const problem = campaignTitleProblem(input.title);
  if (problem) throw unprocessable(`title ${JSON.stringify(input.title)}: ${problem}`);
  if ((await services.campaigns.findIdByTitle(input.title)) !== undefined) throw conflict(`a campaign titled ${JSON.stringify(input.title)} exists already`);
  const labeler = await services.users.ensureLabeler(input.labeler_email);
  const campaign = await services.campaigns.create({
    title: input.title,
    status: "created",
    metadata: input.metadata ?? null,
    labelTranslations: input.label_translations ?? null,
    createdBy: principal.email,
    labelerEmail: input.labeler_email,
    labelerApikey: labeler.apikey,
    dateCreated: contractTimestamp(),
    dateStarted: null,
    dateCompleted: null,
    dateFinished: null,
    finishError: null,
  });
  if (!campaign) throw conflict(`a campaign titled ${JSON.stringify(input.title)} exists already`);
  await services.users.grantCampaign(labeler.apikey, campaign.campaignId);
  return { campaign, access_token: { apikey: labeler.apikey, apisecret: labeler.secret } };
}

/** `PUT /campaigns/{id}` status changes; finishing queues the finishing job (undone if the queue refuses). */
export async function changeCampaignStatus(services: Services, campaignId: number, to: RequestedStatus): Promise<void> {
  let refused: string | undefined;
  const now = contractTimestamp();
  const updated = await services.campaigns.update(campaignId, (current) => {
    refused = canTransition(current.status, to) ? undefined : `campaign ${campaignId} is ${current.status}; it cannot become ${to}`;
    if (refused) return null;
    const next = statusAfterRequest(to);
    if (to === "active") return current.status === "created" ? { status: next, dateStarted: now } : { status: next, dateCompleted: null };
    if (to === "completed") return { status: next, dateCompleted: now };
    return { status: next, finishError: null };
  });
  if (!updated) throw notFound(`campaign ${campaignId} does not exist`);
  if (refused) throw conflict(refused);
  if (to === "finished") {
    try {
      await services.queue.send("campaign-finish", { campaignId });
    } catch (error) {
      await services.campaigns.update(campaignId, (c) => (c.status === "finishing" ? { status: "completed" } : null));
      throw unavailable(`could not queue the finishing job (${errorMessage(error)}); the campaign is unchanged, try again`);
    }
  }
}

export async function addImagesToCampaign(services: Services, campaignId: number, refs: ImageRef[]): Promise<void> {
  const campaign = await getCampaign(services, campaignId);
  if (!acceptsImages(campaign.status)) throw conflict(`campaign ${campaignId} is ${campaign.status}; images can only be added while it is created`);
  const images = await resolveImageRefs(services, refs);
  await services.campaigns.addImages(campaignId, images);
}

/**
 * A partner's batch: validated whole against the campaign's images before anything is written, then
 * stored (current labels replaced, history kept) and one progress job queued per image.
 */
export async function submitObjects(services: Services, principal: Principal, campaignId: number, batch: Submission): Promise<void> {
  const campaign = await getCampaignFor(services, principal, campaignId);
  if (!acceptsSubmissions(campaign.status)) throw conflict(`campaign ${campaignId} is ${campaign.status}; objects are accepted only while it is active`);
  const images = await services.campaigns.getImages(campaignId, [...new Set(batch.map((e) => e.image_id))]);
  const sizes = new Map<number, ImageSize>([...images].map(([id, image]) => [id, { width: image.width, height: image.height }]));
  const prepared = prepareSubmission(batch, sizes, campaign.labelTranslations);
  await services.campaigns.submit(campaignId, principal.email || principal.apikey, prepared, images);
  await queueProgress(services, campaignId, prepared.map((p) => p.imageId));
}

/** Images per progress message: one worker transaction moves `done` for all of them at once. */
const PROGRESS_BATCH = 99;

async function queueProgress(services: Services, campaignId: number, imageIds: number[]): Promise<void> {
  try {
    const batches = Array.from({ length: Math.ceil(imageIds.length / PROGRESS_BATCH) }, (_, i) => imageIds.slice(i * PROGRESS_BATCH, (i + 1) * PROGRESS_BATCH));
    await mapLimit(batches, 16, (batch) => services.queue.send("campaign-progress", { campaignId, imageIds: batch }));
  } catch (error) {
    // The labels are stored; the client retries the same (idempotent) request to get the count updated.
    throw unavailable(`labels stored, but the progress update could not be queued (${errorMessage(error)}); send the request again`);
  }
}

export const reviewSchema = z
  .object({
    image_ids: z.array(z.number().int().positive()).min(1).max(1000),
    decision: z.enum(["approve", "reject"]),
    comment: z.string().max(2000).optional(),
  })
  .strict()
  .refine((r) => r.decision !== "reject" || (r.comment ?? "").trim() !== "", { message: "a rejection needs a comment for the partner", path: ["comment"] });

export const testDataSchema = z
  .object({ image_ids: z.array(z.number().int().positive()).min(1).max(1000), test_data: z.boolean() })
  .strict();

async function requireCampaignImages(services: Services, campaignId: number, imageIds: number[]): Promise<Map<number, CampaignImage>> {
  const images = await services.campaigns.getImages(campaignId, imageIds);
  const missing = imageIds.filter((id) => !images.has(id));
  if (missing.length) throw unprocessable(`image_ids: ${missing.slice(0, 20).join(", ")} ${missing.length === 1 ? "is" : "are"} not part of campaign ${campaignId}`);
  return images;
}

/**
 * Admin review. Approving makes a partner-complete image `admin_complete`; rejecting sends it back to
 * the partner (`rejected`, with the comment), which takes it out of `done` and reopens a completed campaign.
 */
export async function reviewImages(services: Services, principal: Principal, campaignId: number, review: z.infer<typeof reviewSchema>): Promise<void> {
  const campaign = await getCampaign(services, campaignId);
  if (campaign.status !== "active" && campaign.status !== "completed") {
    throw conflict(`campaign ${campaignId} is ${campaign.status}; labels are reviewed while it is active or completed`);
  }
  const images = await requireCampaignImages(services, campaignId, review.image_ids);
  const unlabeled = [...images.values()].filter((i) => i.labelStatus === "unlabeled" || (review.decision === "approve" && i.labelStatus === "rejected"));
  if (unlabeled.length) {
    throw conflict(`image ${unlabeled.map((i) => i.imageId).slice(0, 20).join(", ")} has no partner labels to ${review.decision}`);
  }
  const now = new Date().toISOString();
  const target: LabelStatus = review.decision === "approve" ? "admin_complete" : "rejected";
  await services.campaigns.updateImages(campaignId, review.image_ids, (image) =>
    image.labelStatus === "unlabeled"
      ? null
      : { labelStatus: target, reviewComment: review.comment ?? "", reviewedBy: principal.email, reviewedAt: now, lastActivityAt: now },
  );
  if (review.decision === "reject" && campaign.status === "completed") {
    await services.campaigns.update(campaignId, (c) => (c.status === "completed" ? { status: "active", dateCompleted: null } : null));
  }
  await queueProgress(services, campaignId, review.image_ids);
}

export async function markTestData(services: Services, campaignId: number, input: z.infer<typeof testDataSchema>): Promise<void> {
  await getCampaign(services, campaignId);
  await requireCampaignImages(services, campaignId, input.image_ids);
  await services.campaigns.updateImages(campaignId, input.image_ids, (image) => (image.testData === input.test_data ? null : { testData: input.test_data }));
}

/** `?label_status=a,b&test_data=true|false` on a campaign's image and object lists. */
export const imageFilterQuerySchema = z
  .object({
    label_status: z
      .string()
      .transform((s) => s.split(",").map((p) => p.trim()).filter(Boolean))
      .pipe(z.array(z.enum(LABEL_STATUSES)).min(1))
      .optional(),
    test_data: z.enum(["true", "false"]).transform((v) => v === "true").optional(),
  });

export function toImageFilter(query: z.infer<typeof imageFilterQuerySchema>): ImageFilter {
  return { labelStatus: query.label_status, testData: query.test_data };
}

export const isFiltered = (filter: ImageFilter) => Boolean(filter.labelStatus?.length) || filter.testData !== undefined;

/** A page of a campaign's images, in the order they were added, or filtered (one scan of the campaign's rows). */
export async function campaignImagePage(services: Services, campaignId: number, filter: ImageFilter, offset: number, limit: number) {
  if (isFiltered(filter)) return services.campaigns.filteredPage(campaignId, filter, offset, limit);
  const [progress, ids] = await Promise.all([services.campaigns.progress(campaignId), services.campaigns.imageIdPage(campaignId, offset, limit)]);
  const rows = await services.campaigns.getImages(campaignId, ids);
  return { total: progress.total, images: ids.map((id) => rows.get(id)).filter((r): r is CampaignImage => r !== undefined) };
}

/** Labels of an image: the first listed campaign that has some, else the most recently finished campaign's. */
export async function imageObjects(services: Services, imageId: number, campaignIds: number[] | undefined) {
  const image = await services.images.get(imageId);
  if (!image) throw notFound(`image ${imageId} does not exist`);
  let candidates = campaignIds;
  if (!candidates) {
    const all = await Promise.all((await services.campaigns.campaignsOfImage(imageId)).map((id) => services.campaigns.get(id)));
    candidates = all
      .filter((c): c is CampaignRecord => c?.status === "finished")
      .sort((a, b) => (b.dateFinished ?? "").localeCompare(a.dateFinished ?? ""))
      .slice(0, 1)
      .map((c) => c.campaignId);
  }
  for (const campaignId of candidates) {
    const entry = await services.campaigns.getImage(campaignId, imageId);
    if (entry && entry.labelStatus !== "unlabeled") {
      return { image_id: imageId, campaign_id: campaignId, label_status: entry.labelStatus, objects: entry.objects.map(objectView) };
    }
  }
  return { image_id: imageId, campaign_id: null, label_status: null, objects: [] };
}

/** Whether a labeler may fetch an image: one of its campaigns holds it. */
export async function labelerMaySee(services: Services, principal: Principal, imageId: number): Promise<boolean> {
  const campaigns = await services.users.campaignsOf(principal.apikey);
  const hits = await Promise.all(campaigns.map((c) => services.campaigns.getImage(c, imageId)));
  return hits.some(Boolean);
}

