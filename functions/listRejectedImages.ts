import { app } from "@azure/functions";
import { campaignImageView } from "../shared/app/views.js";
import { campaignImagePage, getCampaignFor } from "../shared/app/campaigns.js";
import { pageOffset, pageQuerySchema, paginate } from "../shared/domain/pagination.js";
import { pageRequest, type HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { idParam, json } from "../shared/http/request.js";

export const handler = endpoint("any-user", async (request, { services, principal }) => {
  const campaign = await getCampaignFor(services, principal, idParam(request, "campaignId"));
  const page = pageRequest(request, 100);
  const { total, images } = await campaignImagePage(services, campaign.campaignId, { labelStatus: ["rejected"] }, pageOffset(page), page.perPage);
  return json(200, {
    images: images.map((i) => ({ ...campaignImageView(i, true), width: i.width, height: i.height })),
    pagination: paginate(page, total),
  });
});

export const definition: HttpFunctionDefinition = {
  name: "listRejectedImages",
  methods: ["GET"],
  route: "v1/campaigns/{campaignId:int}/rejected",
  handler,
  doc: {
    summary: "The campaign's rejected images with the reviewer's comment, the rejected objects and the image size (100 per page), so the partner sees why",
    access: "admin or the campaign's labeler",
    query: pageQuerySchema(100),
    responses: {
      200: "paged rejected images with objects",
      403: "the campaign is finished: partner access has ended",
      404: "unknown campaign, or not the labeler's",
    },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
