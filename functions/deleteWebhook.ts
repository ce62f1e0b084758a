import { app } from "@azure/functions";
import { deleteWebhook } from "../shared/app/webhooks.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { ok } from "../shared/http/request.js";

export const handler = endpoint("admin", async (request, { services }) => {
  await deleteWebhook(services, request.params.webhookId ?? "");
  return ok();
});

export const definition: HttpFunctionDefinition = {
  name: "deleteWebhook",
  methods: ["DELETE"],
  route: "v1/webhooks/{webhookId}",
  handler,
  doc: {
    summary: "Delete a subscription and its secret; attempts still queued for it end failed",
    access: "admin",
    responses: { 200: '"ok"', 404: "unknown id" },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
