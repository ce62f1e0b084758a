import { app } from "@azure/functions";
import { consoleFile } from "../shared/console/serve.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";

export const handler = endpoint("public", async (request, { services }) =>
  consoleFile(services, request.params.asset ?? "", request.headers.get("if-none-match")),
);

export const definition: HttpFunctionDefinition = {
  name: "getConsoleAsset",
  methods: ["GET"],
  route: "v1/console/{asset}",
  handler,
  doc: {
    summary: "A built file of the web console (content-hashed JavaScript and CSS, cached for a year)",
    access: "public",
    responses: { 200: "the file", 304: "not modified (ETag)", 404: "no such file" },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
