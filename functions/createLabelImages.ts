import { app } from "@azure/functions";
import { exportView } from "../shared/app/views.js";
import { startExport } from "../shared/app/exports.js";
import { labelImagesRequestSchema } from "../shared/domain/exports.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { idParam, json, readBody } from "../shared/http/request.js";

export const handler = endpoint("admin", async (request, { services, principal }) => {
  const campaignId = idParam(request, "campaignId");
  const body = await readBody(request, labelImagesRequestSchema, services.config.settings.MAX_BODY_BYTES);
  return json(202, await exportView(services, await startExport(services, principal, campaignId, { format: "masks", ...body })));
});

export const definition: HttpFunctionDefinition = {
  name: "createLabelImages",
  methods: ["PUT"],
  route: "v1/campaigns/{campaignId:int}/label_images",
  handler,
  doc: {
    summary: "Render ground-truth masks (S3Label label images) into output_folder of the export container, as an export job",
    access: "admin",
    body: labelImagesRequestSchema,
    responses: {
      202: "the queued mask export",
      404: "unknown campaign",
      409: "output_folder, a folder above it or one inside it belongs to another mask export (names it); sibling folders are fine",
      422: "invalid options (output_folder, an empty or invalid suffix, gt_mode, filters)",
    },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
