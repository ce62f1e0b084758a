import { app } from "@azure/functions";
import { latestLabelView } from "../shared/app/views.js";
import { campaignImagePage, getCampaign } from "../shared/app/campaigns.js";
import { latestLabelsRequestSchema, labelStatusesFor } from "../shared/domain/exports.js";
import { paginate } from "../shared/domain/pagination.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { idParam, json, readBody } from "../shared/http/request.js";

export const handler = endpoint("admin", async (request, { services }) => {
  const campaign = await getCampaign(services, idParam(request, "campaignId"));
  const body = await readBody(request, latestLabelsRequestSchema, services.config.settings.MAX_BODY_BYTES);
  const filter = { labelStatus: labelStatusesFor(body.label_status) ?? undefined, testData: body.test_images };
  const { total, images } = await campaignImagePage(services, campaign.campaignId, filter, (body.page - 1) * body.per_page, body.per_page);
  return json(200, { labels: images.map(latestLabelView), pagination: paginate({ page: body.page, perPage: body.per_page }, total) });
});

export const definition: HttpFunctionDefinition = {
  name: "latestLabels",
  methods: ["POST"],
  route: "v1/campaigns/{campaignId:int}/latest_labels",
  handler,
  doc: {
    summary: "S3Label-style: the current labels of a campaign's images as JSON, paged, filtered by label_status and test_images",
    access: "admin",
    body: latestLabelsRequestSchema,
    responses: { 200: "paged labels", 404: "unknown campaign" },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
