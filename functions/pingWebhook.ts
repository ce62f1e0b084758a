import { app } from "@azure/functions";
import { pingWebhook } from "../shared/app/webhooks.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { json } from "../shared/http/request.js";

export const handler = endpoint("admin", async (request, { services }) => json(202, await pingWebhook(services, request.params.webhookId ?? "")));

export const definition: HttpFunctionDefinition = {
  name: "pingWebhook",
  methods: ["POST"],
  route: "v1/webhooks/{webhookId}/ping",
  handler,
  doc: {
    summary: "Send a webhook.ping event to the subscription through the usual delivery (signed, retried, listed in its deliveries)",
    access: "admin",
    responses: { 202: "the queued delivery", 404: "unknown id", 503: "the delivery could not be queued" },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
