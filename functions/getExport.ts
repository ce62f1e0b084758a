import { app } from "@azure/functions";
import { exportView } from "../shared/app/views.js";
import { getExport } from "../shared/app/exports.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { json } from "../shared/http/request.js";

export const handler = endpoint("admin", async (request, { services }) => {
  return json(200, await exportView(services, await getExport(services, request.params.exportId ?? "")));
});

export const definition: HttpFunctionDefinition = {
  name: "getExport",
  methods: ["GET"],
  route: "v1/exports/{exportId}",
  handler,
  doc: {
    summary: "An export job: status, progress, check values, warnings, and when done a download_url (read-only SAS, renewed on every GET)",
    access: "admin",
    responses: { 200: "the export", 404: "unknown export" },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
