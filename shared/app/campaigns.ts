import { z } from "zod";
import type { Principal } from "../auth.js";
import {
  acceptsImages,
  acceptsSubmissions,
  campaignTitleProblem,
  canTransition,
  INLINE_ADDITION,
  partnerMayAccess,
  statusAfterRequest,
  type CampaignStatus,
  type reviewSchema,
  type testDataSchema,
} from "../domain/campaigns.js";
import type { ImageRef } from "../domain/imageSets.js";
import type { LabelStatus } from "../domain/labels.js";
import { prepareSubmission, type ImageSize, type Submission } from "../domain/submissions.js";
import { pageOffset, type PageRequest } from "../domain/pagination.js";
import { contractTimestamp } from "../domain/time.js";
import { conflict, errorMessage, forbidden, notFound, unavailable, unprocessable } from "../errors.js";
import { newAdditionId, type AdditionRecord } from "../repos/additions.js";
import type { CampaignImage, CampaignRecord, ImageFilter } from "../repos/campaigns.js";
import { BatchAbortedError, newLabelBatch, type HistoryEntry } from "../repos/labelBatches.js";
import type { Services } from "../services.js";
import { mapLimit } from "../util/concurrency.js";
import { resolveImageRefs } from "./imageSets.js";
import { resolveLabelSchema, schemaNames, type LabelSchemaInput } from "./labelSchemas.js";
import { queueOrUndo } from "./queueing.js";
import { objectView } from "./views.js";

/** A campaign by id, with no scope check (admin paths; labelers go through getCampaignFor); 404 when it does not exist. */
export async function getCampaign(services: Services, campaignId: number): Promise<CampaignRecord> {
  const campaign = await services.campaigns.get(campaignId);
  if (!campaign) throw notFound(`campaign ${campaignId} does not exist`);
  return campaign;
}

/**
 * A campaign a principal may use: admins any, labelers only their own (others look absent: 404), and only
 * until finishing is requested (then 403: the partner's access has ended).
 */
export async function getCampaignFor(services: Services, principal: Principal, campaignId: number): Promise<CampaignRecord> {
  if (principal.role === "image-admin") return getCampaign(services, campaignId);
  if (!(await services.users.hasCampaign(principal.apikey, campaignId))) throw notFound(`campaign ${campaignId} does not exist`);
  const campaign = await getCampaign(services, campaignId);
  if (!partnerMayAccess(campaign.status)) throw forbidden(`campaign ${campaignId} is ${campaign.status}; its partner's access has ended`);
  return campaign;
}

/**
 * Creates a campaign and, for a new e-mail address, its labeler. Everything is validated before the
 * first write; the labeler's e-mail is reserved, the campaign created (its title decides races), and
 * only then the scope granted and a new labeler's secret issued, so a refused request creates no user
 * and a secret is never lost (an interrupted one is issued by the next campaign for that address).
 */
export async function createCampaign(
  services: Services,
  principal: Principal,
  input: {
    title: string;
    labeler_email: string;
    metadata?: Record<string, unknown> | null;
    label_translations?: Record<string, string> | null;
  } & LabelSchemaInput,
) {
  const problem = campaignTitleProblem(input.title);
  if (problem) throw unprocessable(`title ${JSON.stringify(input.title)}: ${problem}`);
  const taken = () => conflict(`a campaign titled ${JSON.stringify(input.title)} exists already`);
  if ((await services.campaigns.findIdByTitle(input.title)) !== undefined) throw taken();
  const labels = (await resolveLabelSchema(services, input)) ?? null;
  const labeler = await services.users.reserveLabeler(input.labeler_email);
  let campaign: CampaignRecord | undefined;
  try {
    campaign = await services.campaigns.create({
      title: input.title,
      status: "created",
      metadata: input.metadata ?? null,
      labelTranslations: input.label_translations ?? null,
      labels,
      createdBy: principal.email,
      labelerEmail: input.labeler_email,
      labelerApikey: labeler.apikey,
      dateCreated: contractTimestamp(),
      dateStarted: null,
      dateCompleted: null,
      dateFinished: null,
      finishError: null,
    });
  } finally {
    if (!campaign && labeler.reserved) await services.users.releaseLabeler(input.labeler_email, labeler.apikey);
  }
  if (!campaign) throw taken();
  await services.users.grantCampaign(labeler.apikey, campaign.campaignId);
  const apisecret = labeler.needsSecret ? await services.users.issueSecret(labeler.apikey, input.labeler_email) : null;
  return { campaign, access_token: { apikey: labeler.apikey, apisecret } };
}

/** `PUT /campaigns/{id}` status changes; finishing queues the finishing job (undone if the queue refuses). */
export async function changeCampaignStatus(services: Services, campaignId: number, to: CampaignStatus): Promise<void> {
  let refused: string | undefined;
  const now = contractTimestamp();
  if (to === "active") {
    const pending = await services.additions.pending(campaignId);
    if (pending.length)
      throw conflict(
        `campaign ${campaignId} is still adding images (addition ${pending[0]!.additionId}: ${pending[0]!.done} of ${pending[0]!.total}); activate it once that is done`,
      );
  }
  let before: Pick<CampaignRecord, "status" | "finishError"> = { status: "completed", finishError: null };
  const updated = await services.campaigns.update(campaignId, (current) => {
    before = { status: current.status, finishError: current.finishError };
    if (!canTransition(current.status, to)) {
      refused = `campaign ${campaignId} is ${current.status}; it cannot become ${to}`;
      return null;
    }
    refused = undefined;
    const next = statusAfterRequest(to);
    if (to === "active") return current.status === "created" ? { status: next, dateStarted: now } : { status: next, dateCompleted: null };
    if (to === "completed") return { status: next, dateCompleted: now };
    return { status: next, finishError: null };
  });
  if (!updated) throw notFound(`campaign ${campaignId} does not exist`);
  if (refused) throw conflict(refused);
  if (to === "finished") {
    await queueOrUndo(
      () => services.queue.send("campaign-finish", { campaignId }),
      // Back to exactly what it was: a campaign whose finishing failed keeps its error.
      // Not announced: the request answers 503, so neither the change nor its undo is news.
      () => services.campaigns.update(campaignId, (c) => (c.status === "finishing" ? before : null), { announce: false }),
      "the finishing job",
    );
  }
}

/**
 * Adds stored images to a campaign. Every reference is resolved first (an unknown one is a 422 and
 * nothing is added). Up to INLINE_ADDITION images are added before answering; a larger addition is
 * recorded and queued, and the answer is its record (the request never waits for minutes).
 */
export async function addImagesToCampaign(services: Services, principal: Principal, campaignId: number, refs: ImageRef[]): Promise<AdditionRecord | undefined> {
  const campaign = await getCampaign(services, campaignId);
  if (!acceptsImages(campaign.status)) throw conflict(`campaign ${campaignId} is ${campaign.status}; images can only be added while it is created`);
  const images = await resolveImageRefs(services, refs);
  if (images.length <= INLINE_ADDITION) {
    await services.campaigns.addImages(campaignId, images);
    return undefined;
  }
  const addition = await services.additions.create(campaignId, {
    additionId: newAdditionId(),
    imageIds: images.map((i) => i.imageId),
    createdBy: principal.email,
    dateCreated: contractTimestamp(),
  });
  await queueOrUndo(
    () => services.queue.send("campaign-images", { campaignId, additionId: addition.additionId }),
    () => services.additions.update(campaignId, addition.additionId, () => ({ status: "failed", error: "could not be queued" })),
    "the addition",
  );
  return addition;
}

/** One of a campaign's background additions, in any status; 404 for an id that is not one (a malformed id is not looked up). */
export async function getAddition(services: Services, campaignId: number, additionId: string): Promise<AdditionRecord> {
  const addition = /^[0-9]{14}-[0-9a-f]{8}$/.test(additionId) ? await services.additions.get(campaignId, additionId) : undefined;
  if (!addition) throw notFound(`campaign ${campaignId} has no addition ${JSON.stringify(additionId.slice(0, 40))}`);
  return addition;
}

/** Seconds before a label batch's check job looks at it: longer than any request that stores a batch takes. */
const BATCH_CHECK_DELAY_SECONDS = 120;

/**
 * A partner's batch: validated whole against the campaign's images before anything is written, then
 * stored all-or-nothing (current labels replaced, history kept, counts moved in the same transactions),
 * completing the campaign when it labeled the last image. A check job is queued first, so a request
 * that dies half-way still ends with the whole batch stored or none of it, and with its counts in the summary.
 */
export async function submitObjects(services: Services, principal: Principal, campaignId: number, batch: Submission): Promise<void> {
  const campaign = await getCampaignFor(services, principal, campaignId);
  if (!acceptsSubmissions(campaign.status)) throw conflict(`campaign ${campaignId} is ${campaign.status}; objects are accepted only while it is active`);
  const images = await services.campaigns.findImages(campaignId, [...new Set(batch.map((e) => e.image_id))]);
  const sizes = new Map<number, ImageSize>([...images].map(([id, image]) => [id, { width: image.width, height: image.height }]));
  const labelBatch = newLabelBatch(
    campaignId,
    principal.email || principal.apikey,
    prepareSubmission(batch, sizes, campaign.labelTranslations, schemaNames(campaign.labels)),
  );
  const imageIds = labelBatch.entries.map((e) => e.imageId);
  try {
    await services.queue.send("campaign-submission", { campaignId, batchId: labelBatch.batchId, imageIds }, { delaySeconds: BATCH_CHECK_DELAY_SECONDS });
  } catch (error) {
    throw unavailable(`could not queue the batch's check job (${errorMessage(error)}); nothing was stored, send the request again`);
  }
  let stored;
  try {
    stored = await services.labelBatches.store(labelBatch, images);
  } catch (error) {
    if (error instanceof BatchAbortedError) throw unavailable("the request took too long and was abandoned; nothing was stored, send it again");
    throw error;
  }
  if (stored.reachedTotal) await services.campaigns.completeIfActive(campaignId);
}

async function requireCampaignImages(services: Services, campaignId: number, imageIds: number[]): Promise<Map<number, CampaignImage>> {
  const images = await services.campaigns.findImages(campaignId, imageIds);
  const missing = imageIds.filter((id) => !images.has(id));
  if (missing.length)
    throw unprocessable(`image_ids: ${missing.slice(0, 20).join(", ")} ${missing.length === 1 ? "is" : "are"} not part of campaign ${campaignId}`);
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
    throw conflict(
      `image ${unlabeled
        .map((i) => i.imageId)
        .slice(0, 20)
        .join(", ")} has no partner labels to ${review.decision}`,
    );
  }
  const now = contractTimestamp();
  const target: LabelStatus = review.decision === "approve" ? "admin_complete" : "rejected";
  // Counts move in the same transactions as the images; approving never raises `done`, rejecting lowers it.
  await services.campaigns.updateImages(campaignId, review.image_ids, (image) =>
    image.labelStatus === "unlabeled"
      ? null
      : { labelStatus: target, reviewComment: review.comment ?? "", reviewedBy: principal.email, reviewedAt: now, lastActivityAt: now },
  );
  if (review.decision === "reject" && campaign.status === "completed") {
    await services.campaigns.update(campaignId, (c) => (c.status === "completed" ? { status: "active", dateCompleted: null } : null));
  }
}

/** Sets or clears the test-data flag of images of a campaign, in any status; 422 (nothing changed) if one is not part of it. */
export async function markTestData(services: Services, campaignId: number, input: z.infer<typeof testDataSchema>): Promise<void> {
  await getCampaign(services, campaignId);
  await requireCampaignImages(services, campaignId, input.image_ids);
  await services.campaigns.updateImages(campaignId, input.image_ids, (image) => (image.testData === input.test_data ? null : { testData: input.test_data }));
}

/** A page of a campaign's images, in the order they were added, or filtered (one scan of the campaign's rows). */
export async function campaignImagePage(services: Services, campaignId: number, filter: ImageFilter, offset: number, limit: number) {
  return services.campaigns.imagePage(campaignId, filter, offset, limit);
}

/**
 * Labels of an image, as the v1 contract's JSON array of objects: the first listed campaign that has
 * some, else the most recently finished campaign's; an empty array when none has.
 */
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
      return entry.objects.map(objectView);
    }
  }
  return [];
}

/**
 * Whether a labeler may fetch an image: one of its campaigns holds it and is not finished. Two reads
 * (the image's campaigns, the key's scope) and one per campaign they share, whatever the key's scope holds.
 */
export async function labelerMaySee(services: Services, principal: Principal, imageId: number): Promise<boolean> {
  const [holding, scope] = await Promise.all([services.campaigns.campaignsOfImage(imageId), services.users.campaignsOf(principal.apikey)]);
  const inScope = new Set(scope);
  const shared = await mapLimit(
    holding.filter((id) => inScope.has(id)),
    8,
    (id) => services.campaigns.get(id),
  );
  return shared.some((campaign) => campaign !== undefined && partnerMayAccess(campaign.status));
}

/** A page of campaigns, in id order. */
export async function campaignsPage(services: Services, page: PageRequest): Promise<{ total: number; campaigns: CampaignRecord[] }> {
  const [total, campaigns] = await Promise.all([services.campaigns.count(), services.campaigns.page(pageOffset(page), page.perPage)]);
  return { total, campaigns };
}

/** Every submission for one image of a campaign that took effect, oldest first. */
export async function imageHistory(services: Services, campaignId: number, imageId: number): Promise<HistoryEntry[]> {
  const campaign = await getCampaign(services, campaignId);
  if (!(await services.campaigns.getImage(campaign.campaignId, imageId))) throw notFound(`image ${imageId} is not part of campaign ${campaign.campaignId}`);
  return services.labelBatches.history(campaign.campaignId, imageId);
}
