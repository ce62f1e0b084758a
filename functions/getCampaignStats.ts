import { app } from "@azure/functions";
import { campaignStats } from "../shared/app/labelers.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { idParam, json } from "../shared/http/request.js";

export const handler = endpoint("any-user", async (request, { services, principal }) =>
  json(200, await campaignStats(services, principal, idParam(request, "campaignId"))),
);

export const definition: HttpFunctionDefinition = {
  name: "getCampaignStats",
  methods: ["GET"],
  route: "v1/campaigns/{campaignId:int}/stats",
  handler,
  doc: {
    summary:
      "A campaign's numbers: images submitted, submissions, objects per image, approved, rejected, rejection rate, first and last activity, submissions per day (UTC)",
    access: "admin or the campaign's labeler",
    responses: { 200: "the statistics", 404: "unknown campaign, or one outside a labeler's scope" },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
