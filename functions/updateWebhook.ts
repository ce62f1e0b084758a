import { app } from "@azure/functions";
import { updateWebhook, webhookView } from "../shared/app/webhooks.js";
import { updateWebhookSchema } from "../shared/domain/webhooks.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { json, readBody } from "../shared/http/request.js";

export const handler = endpoint("admin", async (request, { services }) => {
  // The body first: a bad one is a 422 whatever the id.
  const body = await readBody(request, updateWebhookSchema, services.config.settings.MAX_BODY_BYTES);
  return json(200, webhookView(await updateWebhook(services, request.params.webhookId ?? "", body)));
});

export const definition: HttpFunctionDefinition = {
  name: "updateWebhook",
  methods: ["PATCH"],
  route: "v1/webhooks/{webhookId}",
  handler,
  doc: {
    summary: "Change a subscription's url, events, description or enabled (a disabled one gets no new deliveries, and its pending ones end failed)",
    access: "admin",
    body: updateWebhookSchema,
    responses: { 200: "the subscription", 404: "unknown id", 422: "no field, an unknown field or event, or a URL the rules refuse" },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
