import { app } from "@azure/functions";
import { revokeLabeler } from "../shared/app/labelers.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { json } from "../shared/http/request.js";

export const handler = endpoint("admin", async (request, { services, principal }) =>
  json(200, await revokeLabeler(services, principal, request.params.apikey ?? "")),
);

export const definition: HttpFunctionDefinition = {
  name: "revokeLabeler",
  methods: ["DELETE"],
  route: "v1/labelers/{apikey}",
  handler,
  doc: {
    summary: "Revoke a labeler key: it stays listed with the time it was revoked and gets 401 on every request (PATCH with revoked false restores it)",
    access: "admin",
    responses: { 200: "the labeler, revoked", 404: "unknown key", 409: "an admin key" },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
