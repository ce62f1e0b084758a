import { app } from "@azure/functions";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { json } from "../shared/http/request.js";
import { openApiDocument } from "../shared/http/openapi.js";
import { APP_VERSION } from "../shared/version.js";
import { apiFunctions } from "./apiFunctions.js";

export const handler = endpoint("public", async () => json(200, openApiDocument([...apiFunctions, definition], APP_VERSION)));

export const definition: HttpFunctionDefinition = {
  name: "getOpenApi",
  methods: ["GET"],
  route: "v1/openapi.json",
  handler,
  doc: { summary: "This API as an OpenAPI 3 document", access: "public", responses: { 200: "the document" } },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
