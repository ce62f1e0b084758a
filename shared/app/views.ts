/**
 * How the API shows each resource: every response shape lives here, built from the repositories'
 * records, so a field is named and formatted in one place (the contract's shapes, plus additive fields).
 */
import type { StoredObject } from "../domain/labels.js";
import { classIdAt } from "../domain/labelSchemas.js";
import type { AdditionRecord } from "../repos/additions.js";
import type { CampaignImage, CampaignRecord } from "../repos/campaigns.js";
import type { ExportRecord } from "../repos/exports.js";
import type { ImageRecord } from "../repos/images.js";
import type { ImageSetRecord } from "../repos/imageSets.js";
import type { HistoryEntry } from "../repos/labelBatches.js";
import type { Services } from "../services.js";

/** The contract's image object. */
export function imageView(image: ImageRecord) {
  return {
    image_id: image.imageId,
    blobstorage_path: image.blobPath,
    date_taken: image.dateTaken,
    file: { dimensions: { height: image.height, width: image.width }, filesize: image.filesize, filetype: image.filetype },
    imageset: { imageset_id: image.imagesetId, title: image.imagesetTitle },
    location: { description: null, lat: image.lat, lon: image.lon },
    metadata: null,
    tss_id: null,
    type: null,
  };
}

/**
 * An image set's stored fields as the API names them, without what needs a read or a SAS (the dropbox URL, the image
 * count, the rejected files): the part imageSetView and the webhook events share.
 */
export function imageSetFields(set: ImageSetRecord) {
  return {
    imageset_id: set.imagesetId,
    title: set.title,
    status: set.status,
    metadata: set.metadata,
    blobstorage_path: set.blobstoragePath,
    created_by: set.createdBy,
    date_created: set.dateCreated,
    // A change may clear them with "" (as stored); the API shows null.
    date_finished: set.dateFinished || null,
    failure_reason: set.failureReason || null,
  };
}

/** The contract's image set object (plus `failure_reason` and `rejected_files`, additive). */
export async function imageSetView(services: Services, set: ImageSetRecord, withRejected = true) {
  const dropboxUrl =
    set.status === "created" || set.status === "failed"
      ? await services.sas.containerUrl(set.blobstoragePath, "rwdl", new Date(Date.now() + services.config.settings.DROPBOX_SAS_DAYS * 86_400_000))
      : null;
  return {
    ...imageSetFields(set),
    dropbox_url: dropboxUrl,
    image_count: await services.images.memberCount(set.imagesetId),
    ...(withRejected ? { rejected_files: await services.imageSets.rejected(set.imagesetId) } : {}),
  };
}

/** A campaign's stored fields as the API names them, without `progress` (counted elsewhere): what campaignView and the webhook events share. */
export function campaignFields(campaign: CampaignRecord) {
  return {
    campaign_id: campaign.campaignId,
    title: campaign.title,
    status: campaign.status,
    metadata: campaign.metadata,
    label_translations: campaign.labelTranslations,
    labels: campaign.labels?.map((c) => ({ name: c.name, color: c.color })) ?? null,
    created_by: campaign.createdBy,
    date_created: campaign.dateCreated,
    date_started: campaign.dateStarted,
    date_completed: campaign.dateCompleted,
    date_finished: campaign.dateFinished,
    finish_error: campaign.finishError,
    finish_notes: campaign.finishNotes,
  };
}

/** The contract's campaign object. */
export async function campaignView(services: Services, campaign: CampaignRecord) {
  return { ...campaignFields(campaign), progress: await services.campaigns.progress(campaign.campaignId) };
}

/**
 * `GET /campaigns/{id}/labels`: the schema with each class's id (1-based: the COCO category id, the semantic mask
 * value and the label set's `class_id`; YOLO's class index is `id - 1`), or null, and the translations.
 */
export function campaignLabelsView(campaign: CampaignRecord) {
  return {
    campaign_id: campaign.campaignId,
    labels: campaign.labels?.map((c, i) => ({ id: classIdAt(i), name: c.name, color: c.color })) ?? null,
    label_translations: campaign.labelTranslations,
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

/** An image of a campaign with its label status and review comment, and its objects when `withObjects`. */
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

/** The addition resource. */
export function additionView(addition: AdditionRecord) {
  return {
    addition_id: addition.additionId,
    campaign_id: addition.campaignId,
    status: addition.status,
    images: { done: addition.done, total: addition.total },
    created_by: addition.createdBy,
    date_created: addition.dateCreated,
    date_started: addition.dateStarted,
    date_finished: addition.dateFinished,
    error: addition.error,
  };
}

/** An export's stored fields as the API names them, without `download_url` (a SAS) and live mask counts: what exportView and the webhook events share. */
export function exportFields(record: ExportRecord) {
  return {
    export_id: record.exportId,
    campaign_id: record.campaignId,
    format: record.format,
    status: record.status,
    options: record.options,
    progress: { done: record.progressDone, total: record.progressTotal },
    counts: { images: record.imageCount, objects: record.objectCount },
    warnings: record.warnings,
    warning_count: record.warningCount,
    created_by: record.createdBy,
    date_created: record.dateCreated,
    date_started: record.dateStarted,
    date_finished: record.dateFinished,
    error: record.error,
  };
}

/** The export job resource (export formats and masks alike). */
export async function exportView(services: Services, record: ExportRecord) {
  const downloadUrl =
    record.status === "succeeded" && record.blobName
      ? await services.sas.blobUrl(
          services.config.exportContainer,
          record.blobName,
          "r",
          new Date(Date.now() + services.config.settings.READ_SAS_MINUTES * 60_000),
          {
            contentDisposition: `attachment; filename="${record.blobName.split("/").pop()}"`,
          },
        )
      : null;
  // A mask job being rendered counts its units as the renders land (one summary read).
  const rendering =
    record.format === "masks" && record.status === "running" && record.stage === "render" ? await services.exports.unitProgress(record.exportId) : undefined;
  const fields = exportFields(record);
  return {
    ...fields,
    progress: { done: rendering?.done ?? record.progressDone, total: record.progressTotal },
    counts: { images: rendering?.done ?? record.imageCount, objects: rendering?.objects ?? record.objectCount },
    warning_count: record.warningCount + (rendering?.warningCount ?? 0),
    download_url: downloadUrl,
  };
}

/** A campaign image's current labels, as `POST /campaigns/{id}/latest_labels` answers them. */
export function latestLabelView(image: CampaignImage) {
  return {
    image_id: image.imageId,
    blobstorage_path: image.blobPath,
    label_status: image.labelStatus,
    test_data: image.testData,
    labeled_at: image.firstLabeledAt,
    last_activity: image.lastActivityAt,
    objects: image.objects.map(objectView),
  };
}

/** One submission of an image's history. */
export function submissionView(entry: HistoryEntry) {
  return { submitted_by: entry.submittedBy, submitted_at: entry.submittedAt, objects: entry.objects.map(objectView) };
}
