import { app } from "@azure/functions";
import { redeliver } from "../shared/app/webhooks.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { json } from "../shared/http/request.js";

export const handler = endpoint("admin", async (request, { services }) =>
  json(202, await redeliver(services, request.params.webhookId ?? "", request.params.deliveryId ?? "")),
);

export const definition: HttpFunctionDefinition = {
  name: "redeliverWebhook",
  methods: ["POST"],
  route: "v1/webhooks/{webhookId}/deliveries/{deliveryId}/redeliver",
  handler,
  doc: {
    summary: "Deliver a delivered or failed delivery again: the same body and webhook-id, a new round of attempts",
    access: "admin",
    responses: { 202: "the delivery, pending again", 404: "unknown webhook or delivery", 409: "the delivery is still pending", 503: "it could not be queued" },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
