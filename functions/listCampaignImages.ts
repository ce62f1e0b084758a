import { app } from "@azure/functions";
import { campaignImageView } from "../shared/app/views.js";
import { campaignImagePage, getCampaignFor } from "../shared/app/campaigns.js";
import { imageFilterQuerySchema, toImageFilter } from "../shared/domain/campaigns.js";
import { pageOffset, pageQuerySchema, paginate } from "../shared/domain/pagination.js";
import { pageRequest, type HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { idParam, json, queryObject, validate } from "../shared/http/request.js";

export const handler = endpoint("any-user", async (request, { services, principal }) => {
  const campaign = await getCampaignFor(services, principal, idParam(request, "campaignId"));
  const page = pageRequest(request, 1000);
  const filter = toImageFilter(validate(imageFilterQuerySchema, queryObject(request), "query"));
  const { total, images } = await campaignImagePage(services, campaign.campaignId, filter, pageOffset(page), page.perPage);
  return json(200, { images: images.map((i) => campaignImageView(i, false)), pagination: paginate(page, total) });
});

export const definition: HttpFunctionDefinition = {
  name: "listCampaignImages",
  methods: ["GET"],
  route: "v1/campaigns/{campaignId:int}/images",
  handler,
  doc: {
    summary: "The campaign's images ({image_id, url} plus review state), 1000 per page by default; filter by label_status and test_data",
    access: "admin or the campaign's labeler",
    query: pageQuerySchema(1000).extend(imageFilterQuerySchema.shape),
    responses: { 200: "paged images", 403: "the campaign is finished: partner access has ended", 404: "unknown campaign, or not the labeler's" },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
