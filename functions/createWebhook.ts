import { app } from "@azure/functions";
import { createWebhook } from "../shared/app/webhooks.js";
import { createWebhookSchema } from "../shared/domain/webhooks.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { json, readBody } from "../shared/http/request.js";

export const handler = endpoint("admin", async (request, { services, principal }) => {
  const body = await readBody(request, createWebhookSchema, services.config.settings.MAX_BODY_BYTES);
  return json(201, await createWebhook(services, principal, body));
});

export const definition: HttpFunctionDefinition = {
  name: "createWebhook",
  methods: ["POST"],
  route: "v1/webhooks",
  handler,
  doc: {
    summary:
      "Subscribe a URL to events (imageset.finished, imageset.failed, campaign.activated, campaign.completed, campaign.finished, campaign.finish_failed, " +
      "image.rejected, export.succeeded, export.failed, or *); the answer holds the signing secret (whsec_...), shown only this once",
    access: "admin",
    body: createWebhookSchema,
    responses: {
      201: "the subscription with its secret",
      409: "the limit of 50 subscriptions is reached",
      422: "an unknown or repeated event; a URL that is not https://, holds credentials or a fragment, or points at a private, loopback or link-local address",
    },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
