import { app } from "@azure/functions";
import { campaignExportsPage } from "../shared/app/exports.js";
import { exportView } from "../shared/app/views.js";
import { pageQuerySchema, paginate } from "../shared/domain/pagination.js";
import { pageRequest, type HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { idParam, json } from "../shared/http/request.js";

export const handler = endpoint("admin", async (request, { services }) => {
  const page = pageRequest(request, 10);
  const { total, exports } = await campaignExportsPage(services, idParam(request, "campaignId"), page);
  return json(200, { exports: await Promise.all(exports.map((e) => exportView(services, e))), pagination: paginate(page, total) });
});

export const definition: HttpFunctionDefinition = {
  name: "listExports",
  methods: ["GET"],
  route: "v1/campaigns/{campaignId:int}/exports",
  handler,
  doc: {
    summary: "A campaign's exports, newest first",
    access: "admin",
    query: pageQuerySchema(10),
    responses: { 200: "paged exports", 404: "unknown campaign" },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
