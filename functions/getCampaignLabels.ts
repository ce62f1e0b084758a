import { app } from "@azure/functions";
import { getCampaignFor } from "../shared/app/campaigns.js";
import { campaignLabelsView } from "../shared/app/views.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { idParam, json } from "../shared/http/request.js";

export const handler = endpoint("any-user", async (request, { services, principal }) =>
  json(200, campaignLabelsView(await getCampaignFor(services, principal, idParam(request, "campaignId")))),
);

export const definition: HttpFunctionDefinition = {
  name: "getCampaignLabels",
  methods: ["GET"],
  route: "v1/campaigns/{campaignId:int}/labels",
  handler,
  doc: {
    summary:
      "The campaign's label schema and translations: {campaign_id, labels: [{id, name, color}] or null, label_translations}. " +
      "id is the class id every export uses: 1-based as COCO category ids, semantic mask values and the label set's class_id; YOLO's class index is id - 1",
    access: "admin or the campaign's labeler",
    responses: {
      200: "the schema (null when the campaign has none) and the translations",
      403: "the campaign is finished: partner access has ended",
      404: "unknown campaign, or not the labeler's",
    },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
