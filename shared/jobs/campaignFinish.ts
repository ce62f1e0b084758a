import type { BlockBlobClient } from "@azure/storage-blob";
import { azureMlConfigured, datastoreUri, registerDataAssets } from "../azureml.js";
import { schemaClassNames } from "../domain/labelSchemas.js";
import { contractTimestamp } from "../domain/time.js";
import { createExportStream } from "../export/formats/index.js";
import { imageFilesMLTable, labelSetMLTable } from "../export/mltable.js";
import { campaignExportSource } from "../export/source.js";
import { PermanentJobError } from "../errors.js";
import type { Services } from "../services.js";
import type { JobLog } from "./runtime.js";

/** Where a finished campaign's outputs go, inside the image container. */
export function finishOutputs(title: string) {
  return {
    labelSet: `label_sets/${title}_labels.csv`,
    imagesTable: `datasets/${title}_images/MLTable`,
    labelsTable: `datasets/${title}_labels/MLTable`,
  };
}

/** Writes a blob only if it is not there yet: each output is committed whole, so one that exists is complete. */
async function writeOnce(blob: BlockBlobClient, write: () => Promise<unknown>, log: JobLog): Promise<void> {
  if (await blob.exists()) {
    log.info(`${blob.name} exists already; kept`);
    return;
  }
  await write();
  log.info(`${blob.name} written`);
}

/**
 * The finishing job: the label set CSV (one row per campaign image, all review states), the MLTable
 * definitions of the two ML datasets beside the data, and, with a workspace configured, their Azure ML
 * data asset registration. `finished` is set only after every output exists; a duplicate or resumed run
 * keeps what is written and does the rest.
 */
export async function runCampaignFinish(services: Services, campaignId: number, log: JobLog): Promise<void> {
  const campaign = await services.campaigns.get(campaignId);
  if (!campaign) throw new PermanentJobError(`campaign ${campaignId} does not exist`);
  if (campaign.status !== "finishing") {
    log.info(`campaign is ${campaign.status}; nothing to finish`);
    return;
  }
  const container = services.clients.blobService.getContainerClient(services.config.imageContainer);
  const outputs = finishOutputs(campaign.title);
  const source = campaignExportSource(services, campaignId, { labelStatus: null });

  await writeOnce(
    container.getBlockBlobClient(outputs.labelSet),
    async () => {
      // With a label schema, each object carries its class_id (the schema's order, as in every export).
      const { stream, stats } = createExportStream("csv", source, { now: new Date(campaign.dateCreated), classes: schemaClassNames(campaign.labels) });
      await container
        .getBlockBlobClient(outputs.labelSet)
        .uploadStream(stream, 4 * 1024 * 1024, 4, { blobHTTPHeaders: { blobContentType: "text/csv; charset=utf-8" } });
      const result = await stats;
      if (result.warningCount) log.warn(`label set skipped ${result.warningCount} malformed objects: ${result.warnings.slice(0, 5).join("; ")}`);
    },
    log,
  );
  await writeOnce(
    container.getBlockBlobClient(outputs.imagesTable),
    async () => {
      const paths: Array<{ file: string }> = [];
      for await (const image of source()) paths.push({ file: `../../${image.blobPath}` });
      const text = paths.length ? imageFilesMLTable(paths) : imageFilesMLTable([{ file: `../../${outputs.labelSet}` }]);
      await container.getBlockBlobClient(outputs.imagesTable).upload(text, Buffer.byteLength(text), { blobHTTPHeaders: { blobContentType: "text/yaml" } });
    },
    log,
  );
  await writeOnce(
    container.getBlockBlobClient(outputs.labelsTable),
    async () => {
      const text = labelSetMLTable(`../../${outputs.labelSet}`);
      await container.getBlockBlobClient(outputs.labelsTable).upload(text, Buffer.byteLength(text), { blobHTTPHeaders: { blobContentType: "text/yaml" } });
    },
    log,
  );

  const notes = [`label set: ${outputs.labelSet}`, `datasets: ${outputs.imagesTable}, ${outputs.labelsTable}`];
  if (azureMlConfigured(services.config)) {
    await registerDataAssets(services.config, [
      {
        name: `${campaign.title}_images`,
        dataUri: datastoreUri(services.config, `datasets/${campaign.title}_images`),
        description: `Images of campaign ${campaign.title}`,
      },
      {
        name: `${campaign.title}_labels`,
        dataUri: datastoreUri(services.config, `datasets/${campaign.title}_labels`),
        description: `Label set of campaign ${campaign.title}`,
      },
    ]);
    notes.push(`registered Azure ML data assets ${campaign.title}_images:1 and ${campaign.title}_labels:1`);
  } else {
    const note =
      "no Azure ML workspace configured (AZUREML_SUBSCRIPTION_ID, AZUREML_RESOURCE_GROUP, AZUREML_WORKSPACE): MLTable files written, data assets not registered";
    log.warn(note);
    notes.push(note);
  }
  await services.campaigns.update(campaignId, (current) =>
    current.status === "finishing" ? { status: "finished", dateFinished: contractTimestamp(), finishNotes: notes, finishError: null } : null,
  );
}

/** Ends a finishing campaign as `finish_failed` with the reason (cut to 2,000 characters); any other status is left alone, so a late retry cannot undo a finish. */
export async function failCampaignFinish(services: Services, campaignId: number, reason: string): Promise<void> {
  await services.campaigns.update(campaignId, (current) =>
    current.status === "finishing" ? { status: "finish_failed", finishError: reason.slice(0, 2000) } : null,
  );
}
