import { app } from "@azure/functions";
import { additionView } from "../shared/app/views.js";
import { addImagesToCampaign } from "../shared/app/campaigns.js";
import { campaignImageRefsSchema } from "../shared/domain/campaigns.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { idParam, json, ok, readBody } from "../shared/http/request.js";

export const handler = endpoint("admin", async (request, { services, principal }) => {
  const campaignId = idParam(request, "campaignId");
  const refs = await readBody(request, campaignImageRefsSchema, services.config.settings.MAX_BODY_BYTES);
  const addition = await addImagesToCampaign(services, principal, campaignId, refs);
  if (!addition) return ok();
  return { ...json(202, additionView(addition)), headers: { Location: `/api/v1/campaigns/${campaignId}/additions/${addition.additionId}` } };
});

export const definition: HttpFunctionDefinition = {
  name: "addCampaignImages",
  methods: ["POST"],
  route: "v1/campaigns/{campaignId:int}/images",
  handler,
  doc: {
    summary:
      "Add stored images to a campaign by id or filepath, while it is created (an image is counted once). Up to 10,000 are added before the answer; more (up to 100,000 per request) run in the background: 202 with the addition's status",
    access: "admin",
    body: campaignImageRefsSchema,
    responses: {
      200: '"ok"',
      202: "the addition, running in the background (Location: its status)",
      404: "unknown campaign",
      409: "campaign is not created",
      422: "unknown image",
    },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
