import { app } from "@azure/functions";
import { whoAmI } from "../shared/app/me.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { json } from "../shared/http/request.js";

export const handler = endpoint("any-user", async (_request, { services, principal }) => json(200, await whoAmI(services, principal)));

export const definition: HttpFunctionDefinition = {
  name: "getMe",
  methods: ["GET"],
  route: "v1/me",
  handler,
  doc: {
    summary:
      "Who this key is: {apikey, role, email, campaigns}; a labeler's campaigns with title, status, progress and access_ended, null for an admin (every campaign)",
    access: "any user",
    responses: { 200: "the key's role, e-mail and campaigns in scope" },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
