import { app } from "@azure/functions";
import { changeCampaignStatus } from "../shared/app/campaigns.js";
import { updateCampaignSchema } from "../shared/domain/campaigns.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { idParam, ok, readBody } from "../shared/http/request.js";

export const handler = endpoint("admin", async (request, { services }) => {
  const campaignId = idParam(request, "campaignId");
  const body = await readBody(request, updateCampaignSchema, services.config.settings.MAX_BODY_BYTES);
  await changeCampaignStatus(services, campaignId, body.new_status);
  return ok();
});

export const definition: HttpFunctionDefinition = {
  name: "updateCampaign",
  methods: ["PUT"],
  route: "v1/campaigns/{campaignId:int}",
  handler,
  doc: {
    summary:
      "Change status: created→active, active→completed, completed→active (reopen), completed→finished (writes the label set and datasets in the background)",
    access: "admin",
    body: updateCampaignSchema,
    responses: { 200: '"ok"', 404: "unknown id", 409: "a known status the campaign cannot move to from its current one", 422: "not a status" },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
