import { app } from "@azure/functions";
import { markTestData } from "../shared/app/campaigns.js";
import { testDataSchema } from "../shared/domain/campaigns.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { idParam, ok, readBody } from "../shared/http/request.js";

export const handler = endpoint("admin", async (request, { services }) => {
  const campaignId = idParam(request, "campaignId");
  await markTestData(services, campaignId, await readBody(request, testDataSchema, services.config.settings.MAX_BODY_BYTES));
  return ok();
});

export const definition: HttpFunctionDefinition = {
  name: "markCampaignTestData",
  methods: ["PUT"],
  route: "v1/campaigns/{campaignId:int}/test_data",
  handler,
  doc: {
    summary: "Mark one or many campaign images as test data (held out for evaluation), or unmark them",
    access: "admin",
    body: testDataSchema,
    responses: { 200: '"ok"', 404: "unknown campaign", 422: "unknown image" },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
