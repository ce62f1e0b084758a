import { app } from "@azure/functions";
import { getWebhook, webhookView } from "../shared/app/webhooks.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { json } from "../shared/http/request.js";

export const handler = endpoint("admin", async (request, { services }) => json(200, webhookView(await getWebhook(services, request.params.webhookId ?? ""))));

export const definition: HttpFunctionDefinition = {
  name: "getWebhook",
  methods: ["GET"],
  route: "v1/webhooks/{webhookId}",
  handler,
  doc: {
    summary: "One webhook subscription (without its secret)",
    access: "admin",
    responses: { 200: "the subscription", 404: "unknown id" },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
