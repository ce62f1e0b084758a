import { app } from "@azure/functions";
import { deliveriesPage } from "../shared/app/webhooks.js";
import { pageQuerySchema, paginate } from "../shared/domain/pagination.js";
import { pageRequest, type HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { json } from "../shared/http/request.js";

export const handler = endpoint("admin", async (request, { services }) => {
  const page = pageRequest(request, 20);
  const { total, deliveries } = await deliveriesPage(services, request.params.webhookId ?? "", page);
  return json(200, { deliveries, pagination: paginate(page, total) });
});

export const definition: HttpFunctionDefinition = {
  name: "listWebhookDeliveries",
  methods: ["GET"],
  route: "v1/webhooks/{webhookId}/deliveries",
  handler,
  doc: {
    summary:
      "A subscription's deliveries, newest first: status (pending, delivered, failed), next attempt, and each attempt's time, duration, status code or error, next retry and up to 1 KB of the answer",
    access: "admin",
    query: pageQuerySchema(20),
    responses: { 200: "paged deliveries", 404: "unknown id" },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
