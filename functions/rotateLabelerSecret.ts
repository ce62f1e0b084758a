import { app } from "@azure/functions";
import { rotateLabelerSecret } from "../shared/app/labelers.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { json } from "../shared/http/request.js";

export const handler = endpoint("any-user", async (request, { services, principal }) =>
  json(200, await rotateLabelerSecret(services, principal, request.params.apikey ?? "")),
);

export const definition: HttpFunctionDefinition = {
  name: "rotateLabelerSecret",
  methods: ["POST"],
  route: "v1/labelers/{apikey}/secret",
  handler,
  doc: {
    summary: "Give a labeler key a new secret, answered only now as {apikey, apisecret}; the old secret fails from the next request on, on every instance",
    access: "admin or the key's own labeler",
    responses: { 200: "the key and its new secret", 404: "unknown key (or, to a labeler, any key but its own)", 409: "an admin key" },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
