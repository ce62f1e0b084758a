import { app } from "@azure/functions";
import { exportView } from "../shared/app/views.js";
import { startExport } from "../shared/app/exports.js";
import { exportRequestSchema } from "../shared/domain/exports.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { idParam, json, readBody } from "../shared/http/request.js";

export const handler = endpoint("admin", async (request, { services, principal }) => {
  const campaignId = idParam(request, "campaignId");
  const body = await readBody(request, exportRequestSchema, services.config.settings.MAX_BODY_BYTES);
  return json(202, await exportView(services, await startExport(services, principal, campaignId, body)));
});

export const definition: HttpFunctionDefinition = {
  name: "createExport",
  methods: ["POST"],
  route: "v1/campaigns/{campaignId:int}/exports",
  handler,
  doc: {
    summary: "Start an export job (csv, json, coco, yolo, voc, or masks) with review, test-split and date filters",
    access: "admin",
    body: exportRequestSchema,
    responses: {
      202: "the queued export",
      404: "unknown campaign",
      409: "format masks: output_folder, a folder above it or one inside it belongs to another mask export (names it); sibling folders are fine",
      422: "invalid format, filter, output_folder or suffix",
    },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
