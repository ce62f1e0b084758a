import { app } from "@azure/functions";
import { campaignView } from "../shared/app/views.js";
import { getCampaign } from "../shared/app/campaigns.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { idParam, json } from "../shared/http/request.js";

export const handler = endpoint("admin", async (request, { services }) => {
  return json(200, await campaignView(services, await getCampaign(services, idParam(request, "campaignId"))));
});

export const definition: HttpFunctionDefinition = {
  name: "getCampaign",
  methods: ["GET"],
  route: "v1/campaigns/{campaignId:int}",
  handler,
  doc: { summary: "One campaign with its exact progress", access: "admin", responses: { 200: "the campaign", 404: "unknown id" } },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
