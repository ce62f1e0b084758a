import { app } from "@azure/functions";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { json } from "../shared/http/request.js";
import { APP_VERSION } from "../shared/version.js";

export const handler = endpoint("any-user", async () => json(200, { version: APP_VERSION, api: "v1", node: process.version }));

export const definition: HttpFunctionDefinition = {
  name: "getVersion",
  methods: ["GET"],
  route: "v1/info/version",
  handler,
  doc: { summary: "The app's version", access: "any user", responses: { 200: "version" } },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
