import { app } from "@azure/functions";
import { campaignsPage } from "../shared/app/campaigns.js";
import { campaignView } from "../shared/app/views.js";
import { pageQuerySchema, paginate } from "../shared/domain/pagination.js";
import { pageRequest, type HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { json } from "../shared/http/request.js";

export const handler = endpoint("admin", async (request, { services }) => {
  const page = pageRequest(request, 10);
  const { total, campaigns } = await campaignsPage(services, page);
  return json(200, { campaigns: await Promise.all(campaigns.map((c) => campaignView(services, c))), pagination: paginate(page, total) });
});

export const definition: HttpFunctionDefinition = {
  name: "listCampaigns",
  methods: ["GET"],
  route: "v1/campaigns",
  handler,
  doc: { summary: "List campaigns (10 per page by default)", access: "admin", query: pageQuerySchema(10), responses: { 200: "paged campaigns" } },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
