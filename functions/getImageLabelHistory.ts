import { app } from "@azure/functions";
import { submissionView } from "../shared/app/views.js";
import { imageHistory } from "../shared/app/campaigns.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { idParam, json } from "../shared/http/request.js";

export const handler = endpoint("admin", async (request, { services }) => {
  const imageId = idParam(request, "imageId");
  const history = await imageHistory(services, idParam(request, "campaignId"), imageId);
  return json(200, { image_id: imageId, submissions: history.map(submissionView) });
});

export const definition: HttpFunctionDefinition = {
  name: "getImageLabelHistory",
  methods: ["GET"],
  route: "v1/campaigns/{campaignId:int}/images/{imageId:int}/history",
  handler,
  doc: {
    summary: "Every submission for one campaign image, oldest first (the last is the current label)",
    access: "admin",
    responses: { 200: "submissions", 404: "unknown campaign or image" },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
