import { app } from "@azure/functions";
import { updateLabeler } from "../shared/app/labelers.js";
import { updateLabelerSchema } from "../shared/domain/labelers.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { json, readBody } from "../shared/http/request.js";

export const handler = endpoint("admin", async (request, { services, principal }) => {
  const update = await readBody(request, updateLabelerSchema, services.config.settings.MAX_BODY_BYTES);
  return json(200, await updateLabeler(services, principal, request.params.apikey ?? "", update));
});

export const definition: HttpFunctionDefinition = {
  name: "updateLabeler",
  methods: ["PATCH"],
  route: "v1/labelers/{apikey}",
  handler,
  doc: {
    summary:
      "Set a labeler key's expires_at (an ISO 8601 timestamp, a past one expires it at once; null: never) and/or revoke or restore it ({revoked: true|false})",
    access: "admin",
    body: updateLabelerSchema,
    responses: { 200: "the labeler", 404: "unknown key", 409: "an admin key", 422: "not a timestamp, or nothing to change" },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
