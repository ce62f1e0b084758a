import { app } from "@azure/functions";
import { removeLabelerCampaign } from "../shared/app/labelers.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { idParam, json } from "../shared/http/request.js";

export const handler = endpoint("admin", async (request, { services, principal }) => {
  const campaignId = idParam(request, "campaignId");
  return json(200, await removeLabelerCampaign(services, principal, request.params.apikey ?? "", campaignId));
});

export const definition: HttpFunctionDefinition = {
  name: "removeLabelerCampaign",
  methods: ["DELETE"],
  route: "v1/labelers/{apikey}/campaigns/{campaignId:int}",
  handler,
  doc: {
    summary: "Take a campaign out of a labeler key's scope: the key then sees it as a campaign it never had (404/403 on its routes)",
    access: "admin",
    responses: { 200: "the labeler with its scope", 404: "unknown key or campaign", 409: "an admin key" },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
