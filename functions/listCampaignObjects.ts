import { app } from "@azure/functions";
import { campaignImageView } from "../shared/app/views.js";
import { campaignImagePage, getCampaign } from "../shared/app/campaigns.js";
import { imageFilterQuerySchema, toImageFilter } from "../shared/domain/campaigns.js";
import { pageOffset, pageQuerySchema, paginate } from "../shared/domain/pagination.js";
import { pageRequest, type HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { idParam, json, queryObject, validate } from "../shared/http/request.js";

export const handler = endpoint("admin", async (request, { services }) => {
  const campaign = await getCampaign(services, idParam(request, "campaignId"));
  const page = pageRequest(request, 100);
  const filter = toImageFilter(validate(imageFilterQuerySchema, queryObject(request), "query"));
  const { total, images } = await campaignImagePage(services, campaign.campaignId, filter, pageOffset(page), page.perPage);
  return json(200, { images: images.map((i) => campaignImageView(i, true)), pagination: paginate(page, total) });
});

export const definition: HttpFunctionDefinition = {
  name: "listCampaignObjects",
  methods: ["GET"],
  route: "v1/campaigns/{campaignId:int}/objects",
  handler,
  doc: {
    summary: "The campaign's images with their current objects (100 per page by default); filter by label_status and test_data",
    access: "admin",
    query: pageQuerySchema(100).extend(imageFilterQuerySchema.shape),
    responses: { 200: "paged images with objects", 404: "unknown campaign" },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
