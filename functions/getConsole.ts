import { app } from "@azure/functions";
import { consoleFile } from "../shared/console/serve.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";

export const handler = endpoint("public", async (request, { services }) => consoleFile(services, "index.html", request.headers.get("if-none-match")));

export const definition: HttpFunctionDefinition = {
  name: "getConsole",
  methods: ["GET"],
  route: "v1/console",
  handler,
  doc: {
    summary: "The web console (HTML page; sign in with an Authentication-Key and -Secret). Strict Content-Security-Policy, no-cache",
    access: "public",
    responses: { 200: "the console page (text/html)", 304: "not modified (ETag)", 404: "the console is not built (run npm run build)" },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
