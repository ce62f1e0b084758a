import { app } from "@azure/functions";
import { campaignView } from "../shared/app/views.js";
import { createCampaign } from "../shared/app/campaigns.js";
import { createCampaignSchema } from "../shared/domain/campaigns.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { json, readBody } from "../shared/http/request.js";

export const handler = endpoint("admin", async (request, { services, principal }) => {
  const body = await readBody(request, createCampaignSchema, services.config.settings.MAX_BODY_BYTES);
  const { campaign, access_token } = await createCampaign(services, principal, body);
  return json(201, { ...(await campaignView(services, campaign)), access_token });
});

export const definition: HttpFunctionDefinition = {
  name: "createCampaign",
  methods: ["POST"],
  route: "v1/campaigns",
  handler,
  doc: {
    summary:
      "Create a campaign; a new labeler gets a key and secret (shown only now), an existing one its key and apisecret null. " +
      "labels declares its label schema (class ids in that order in every export), labels_from copies another campaign's",
    access: "admin",
    body: createCampaignSchema,
    responses: {
      201: "the campaign with access_token",
      403: "the e-mail belongs to an admin",
      409: "title taken",
      422: "invalid title, e-mail, metadata, label_translations or labels (limits in the schema); labels_from naming a campaign that does not exist or has no schema; labels with labels_from",
    },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
