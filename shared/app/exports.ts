import type { Principal } from "../auth.js";
import { toExportFilter, type ExportFilter, type JobFormat } from "../domain/exports.js";
import { conflict, errorMessage, notFound, unavailable } from "../errors.js";
import { newExportId, type ExportRecord, type FolderClaim } from "../repos/exports.js";
import type { Services } from "../services.js";
import { getCampaign } from "./campaigns.js";
import { queueOrUndo } from "./queueing.js";
import { queueExportJob } from "../jobs/exports.js";
import { pageOffset, type PageRequest } from "../domain/pagination.js";
import { contractTimestamp } from "../domain/time.js";

export interface ExportOptionsInput {
  format: JobFormat;
  label_status: "admin_complete" | "user_complete" | "all";
  test_data?: boolean;
  start?: { at: string; dateOnly: boolean };
  end?: { at: string; dateOnly: boolean };
  last_activity_start?: { at: string; dateOnly: boolean };
  last_activity_end?: { at: string; dateOnly: boolean };
  output_folder?: string;
  suffix?: string;
  gt_mode?: string;
}

/**
 * What an export record keeps as its `options`: the filter the job applies, the filters as the request
 * gave them (dates as sent), and for a mask export its output folder, suffix and GT mode.
 */
export interface StoredExportOptions {
  filter: ExportFilter;
  request: Record<string, unknown>;
  masks?: { outputFolder: string; suffix: string; gtMode: string };
}

/** The 409 for a mask output folder another export writes to. */
function folderTaken(folder: string, claim: Exclude<FolderClaim, { ok: true }>) {
  const detail =
    claim.relation === "same"
      ? `output_folder ${folder} belongs to export ${claim.owner}`
      : claim.relation === "inside"
        ? `output_folder ${folder} is inside ${claim.folder}, which belongs to export ${claim.owner}`
        : `output_folder ${folder} holds ${claim.folder}, which belongs to export ${claim.owner}`;
  return conflict(`${detail}; each mask export writes into a folder of its own (sibling folders are fine)`, {
    output_folder: folder,
    owner_export_id: claim.owner,
    owner_folder: claim.folder,
  });
}

/**
 * Records an export job and queues it; answers with the queued job. The input was validated by the request
 * schema (the domain rules); a mask export then claims its output folder first, so a refused request (422, 404,
 * 409) leaves nothing behind: no claim, no export record, no message. Writes go claim → record → queue; when a
 * later one fails the claim is given back (best effort) and the answer is 503.
 */
export async function startExport(services: Services, principal: Principal, campaignId: number, input: ExportOptionsInput): Promise<ExportRecord> {
  await getCampaign(services, campaignId);
  const { format, output_folder, suffix, gt_mode, ...filters } = input;
  const masks = format === "masks" ? { outputFolder: output_folder!, suffix: suffix ?? "_gt", gtMode: gt_mode! } : undefined;
  const options: StoredExportOptions = {
    filter: toExportFilter(filters),
    request: {
      label_status: filters.label_status,
      ...(filters.test_data !== undefined ? { test_data: filters.test_data } : {}),
      ...Object.fromEntries((["start", "end", "last_activity_start", "last_activity_end"] as const).filter((k) => filters[k]).map((k) => [k, filters[k]!.at])),
    },
    ...(masks ? { masks } : {}),
  };
  const exportId = newExportId(campaignId);
  if (masks) {
    const claim = await services.exports.claimFolder(masks.outputFolder, exportId);
    if (!claim.ok) throw folderTaken(masks.outputFolder, claim);
  }
  const release = async () => {
    if (masks) await services.exports.releaseFolder(masks.outputFolder, exportId).catch(() => undefined);
  };
  let record: ExportRecord;
  try {
    record = await services.exports.create({
      exportId,
      campaignId,
      format,
      options: options as unknown as Record<string, unknown>,
      status: "queued",
      createdBy: principal.email,
      dateCreated: contractTimestamp(),
      dateStarted: null,
      dateFinished: null,
      progressDone: 0,
      progressTotal: 0,
      imageCount: 0,
      objectCount: 0,
      warnings: [],
      warningCount: 0,
      blobName: null,
      error: null,
      stage: null,
    });
  } catch (error) {
    await release();
    throw unavailable(`could not record the export (${errorMessage(error)}); try again`);
  }
  await queueOrUndo(
    async () => {
      // A claim is taken over only when it is stale and has no record; with the record written it is safe from
      // then on, so this one read settles whether a very slow request lost its folder in between.
      if (masks && (await services.exports.folderOwner(masks.outputFolder)) !== exportId) {
        throw new Error(`output_folder ${masks.outputFolder} was taken over while this request was recording the export`);
      }
      await queueExportJob(services, record.exportId, record.format);
    },
    async () => {
      // Not announced: the request answers 503 (and the queue a webhook would need is down).
      await services.exports.update(record.exportId, () => ({ status: "failed", error: "could not be queued" }), { announce: false }).catch(() => undefined);
      await release();
    },
    "the export",
  );
  return record;
}

/** An export job by id, any campaign's; 404 when it does not exist. */
export async function getExport(services: Services, exportId: string): Promise<ExportRecord> {
  const record = await services.exports.get(exportId);
  if (!record) throw notFound(`export ${exportId} does not exist`);
  return record;
}

/** A page of a campaign's export jobs, newest first. */
export async function campaignExportsPage(services: Services, campaignId: number, page: PageRequest): Promise<{ total: number; exports: ExportRecord[] }> {
  await getCampaign(services, campaignId);
  const all = await services.exports.listForCampaign(campaignId);
  return { total: all.length, exports: all.slice(pageOffset(page), pageOffset(page) + page.perPage) };
}
