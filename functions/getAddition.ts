import { app } from "@azure/functions";
import { additionView } from "../shared/app/views.js";
import { getAddition, getCampaign } from "../shared/app/campaigns.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { idParam, json } from "../shared/http/request.js";

export const handler = endpoint("admin", async (request, { services }) => {
  const campaign = await getCampaign(services, idParam(request, "campaignId"));
  return json(200, additionView(await getAddition(services, campaign.campaignId, request.params.additionId ?? "")));
});

export const definition: HttpFunctionDefinition = {
  name: "getAddition",
  methods: ["GET"],
  route: "v1/campaigns/{campaignId:int}/additions/{additionId}",
  handler,
  doc: {
    summary: "A background addition of images to a campaign: status (queued, running, succeeded, failed) and images {done, total}",
    access: "admin",
    responses: { 200: "the addition", 404: "unknown campaign or addition" },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
