import { app } from "@azure/functions";
import { labelerStats } from "../shared/app/labelers.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { json } from "../shared/http/request.js";

export const handler = endpoint("any-user", async (request, { services, principal }) =>
  json(200, await labelerStats(services, principal, request.params.apikey ?? "")),
);

export const definition: HttpFunctionDefinition = {
  name: "getLabelerStats",
  methods: ["GET"],
  route: "v1/labelers/{apikey}/stats",
  handler,
  doc: {
    summary:
      "A labeler's numbers summed over the campaigns in its scope: images submitted, submissions, objects per image, approved, rejected, rejection rate, first and last activity, submissions per day",
    access: "admin or the key's own labeler",
    responses: { 200: "the statistics", 404: "unknown key (or, to a labeler, any key but its own)", 409: "an admin key" },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
