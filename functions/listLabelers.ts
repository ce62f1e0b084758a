import { app } from "@azure/functions";
import { labelersPage } from "../shared/app/labelers.js";
import { pageQuerySchema, paginate } from "../shared/domain/pagination.js";
import { pageRequest, type HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { json } from "../shared/http/request.js";

export const handler = endpoint("admin", async (request, { services }) => {
  const page = pageRequest(request, 10);
  const { total, labelers } = await labelersPage(services, page);
  return json(200, { labelers, pagination: paginate(page, total) });
});

export const definition: HttpFunctionDefinition = {
  name: "listLabelers",
  methods: ["GET"],
  route: "v1/labelers",
  handler,
  doc: {
    summary:
      "List labeler keys in order of creation (10 per page by default): {apikey, email, campaigns (in scope), date_created, last_used, revoked, expires_at, status}",
    access: "admin",
    query: pageQuerySchema(10),
    responses: { 200: "paged labelers" },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
