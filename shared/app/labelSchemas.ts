import type { LabelClass } from "../domain/labelSchemas.js";
import { conflict, notFound, unprocessable } from "../errors.js";
import type { Services } from "../services.js";

/** What a campaign request says about the label schema: a new one (`labels`, null for none) or a copy (`labels_from`). */
export interface LabelSchemaInput {
  labels?: LabelClass[] | null;
  labels_from?: number;
}

/**
 * The schema a request asks for: `labels` as validated, or a copy of campaign `labels_from`'s (a 422 when that
 * campaign does not exist or has no schema: it is a reference in the body, like an unknown image reference).
 * Undefined when the request says nothing about labels. Reads only; call before the first write.
 */
export async function resolveLabelSchema(services: Services, input: LabelSchemaInput): Promise<LabelClass[] | null | undefined> {
  if (input.labels_from === undefined) return input.labels;
  const source = await services.campaigns.get(input.labels_from);
  if (!source) throw unprocessable(`labels_from: campaign ${input.labels_from} does not exist`);
  if (!source.labels) throw unprocessable(`labels_from: campaign ${input.labels_from} has no label schema to copy`);
  return source.labels;
}

/**
 * `PUT /campaigns/{id}` with `labels` or `labels_from`: replaces (or with null removes) the campaign's schema
 * while it is `created`; once it has left `created` the schema is fixed (409), since submissions and exports
 * rely on it. One write under the record's ETag, so a concurrent activation either sees the new schema or
 * refuses it.
 */
export async function setCampaignLabels(services: Services, campaignId: number, input: LabelSchemaInput): Promise<void> {
  if (!(await services.campaigns.get(campaignId))) throw notFound(`campaign ${campaignId} does not exist`);
  const labels = await resolveLabelSchema(services, input);
  if (labels === undefined) return;
  let refused: string | undefined;
  const updated = await services.campaigns.update(campaignId, (current) => {
    refused = current.status === "created" ? undefined : `campaign ${campaignId} is ${current.status}; its labels are fixed once it leaves created`;
    return refused ? null : { labels };
  });
  if (!updated) throw notFound(`campaign ${campaignId} does not exist`);
  if (refused) throw conflict(refused);
}

/** The class names a submission to the campaign must keep to, or null when it has no schema. */
export const schemaNames = (labels: readonly LabelClass[] | null): ReadonlySet<string> | null => (labels ? new Set(labels.map((c) => c.name)) : null);
