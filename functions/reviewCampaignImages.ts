import { app } from "@azure/functions";
import { reviewImages } from "../shared/app/campaigns.js";
import { reviewSchema } from "../shared/domain/campaigns.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { idParam, ok, readBody } from "../shared/http/request.js";

export const handler = endpoint("admin", async (request, { services, principal }) => {
  const campaignId = idParam(request, "campaignId");
  const review = await readBody(request, reviewSchema, services.config.settings.MAX_BODY_BYTES);
  await reviewImages(services, principal, campaignId, review);
  return ok();
});

export const definition: HttpFunctionDefinition = {
  name: "reviewCampaignImages",
  methods: ["PUT"],
  route: "v1/campaigns/{campaignId:int}/review",
  handler,
  doc: {
    summary: "Approve (admin_complete) or reject (back to the partner, with a comment) one or many labeled images",
    access: "admin",
    body: reviewSchema,
    responses: {
      200: '"ok"',
      404: "unknown campaign",
      409: "campaign not active/completed, or an image has no labels",
      422: "unknown image or missing comment",
    },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
