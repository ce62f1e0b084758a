import { app } from "@azure/functions";
import { getCampaign, objectView } from "../shared/app/campaigns.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { idParam, json } from "../shared/http/request.js";
import { notFound } from "../shared/errors.js";

export const handler = endpoint("admin", async (request, { services }) => {
  const campaign = await getCampaign(services, idParam(request, "campaignId"));
  const imageId = idParam(request, "imageId");
  if (!(await services.campaigns.getImage(campaign.campaignId, imageId))) throw notFound(`image ${imageId} is not part of campaign ${campaign.campaignId}`);
  const history = await services.labelBatches.history(campaign.campaignId, imageId);
  return json(200, {
    image_id: imageId,
    submissions: history.map((h) => ({ submitted_by: h.submittedBy, submitted_at: h.submittedAt, objects: h.objects.map(objectView) })),
  });
});

export const definition: HttpFunctionDefinition = {
  name: "getImageLabelHistory",
  methods: ["GET"],
  route: "v1/campaigns/{campaignId:int}/images/{imageId:int}/history",
  handler,
  doc: { summary: "Every submission for one campaign image, oldest first (the last is the current label)", access: "admin", responses: { 200: "submissions", 404: "unknown campaign or image" } },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
