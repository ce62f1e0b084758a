import { app } from "@azure/functions";
import { addImagesToCampaign } from "../shared/app/campaigns.js";
import { imageRefsSchema } from "../shared/domain/imageSets.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { idParam, ok, readBody } from "../shared/http/request.js";

export const handler = endpoint("admin", async (request, { services }) => {
  const campaignId = idParam(request, "campaignId");
  const refs = await readBody(request, imageRefsSchema, services.config.settings.MAX_BODY_BYTES);
  await addImagesToCampaign(services, campaignId, refs);
  return ok();
});

export const definition: HttpFunctionDefinition = {
  name: "addCampaignImages",
  methods: ["POST"],
  route: "v1/campaigns/{campaignId:int}/images",
  handler,
  doc: {
    summary: "Add stored images to a campaign by id or filepath, while it is created (an image is counted once)",
    access: "admin",
    body: imageRefsSchema,
    responses: { 200: '"ok"', 404: "unknown campaign", 409: "campaign is not created", 422: "unknown image" },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
