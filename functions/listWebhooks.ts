import { app } from "@azure/functions";
import { webhooksPage, webhookView } from "../shared/app/webhooks.js";
import { pageQuerySchema, paginate } from "../shared/domain/pagination.js";
import { pageRequest, type HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { json } from "../shared/http/request.js";

export const handler = endpoint("admin", async (request, { services }) => {
  const page = pageRequest(request, 10);
  const { total, webhooks } = await webhooksPage(services, page);
  return json(200, { webhooks: webhooks.map(webhookView), pagination: paginate(page, total) });
});

export const definition: HttpFunctionDefinition = {
  name: "listWebhooks",
  methods: ["GET"],
  route: "v1/webhooks",
  handler,
  doc: {
    summary: "Webhook subscriptions, oldest first (never their secrets)",
    access: "admin",
    query: pageQuerySchema(10),
    responses: { 200: "paged webhooks" },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
