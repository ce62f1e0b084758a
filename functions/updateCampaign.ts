import { app } from "@azure/functions";
import { changeCampaignStatus } from "../shared/app/campaigns.js";
import { setCampaignLabels } from "../shared/app/labelSchemas.js";
import { updateCampaignSchema } from "../shared/domain/campaigns.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { idParam, ok, readBody } from "../shared/http/request.js";

export const handler = endpoint("admin", async (request, { services }) => {
  const campaignId = idParam(request, "campaignId");
  const body = await readBody(request, updateCampaignSchema, services.config.settings.MAX_BODY_BYTES);
  // The schema lets exactly one of the two through: a status change, or a label schema change.
  if (body.new_status !== undefined) await changeCampaignStatus(services, campaignId, body.new_status);
  else await setCampaignLabels(services, campaignId, body);
  return ok();
});

export const definition: HttpFunctionDefinition = {
  name: "updateCampaign",
  methods: ["PUT"],
  route: "v1/campaigns/{campaignId:int}",
  handler,
  doc: {
    summary:
      "Change status: created→active, active→completed, completed→active (reopen), completed→finished (writes the label set and datasets in the background); " +
      "or, while created, set the label schema ({labels} or {labels_from}; labels: null removes it) in a request of its own",
    access: "admin",
    body: updateCampaignSchema,
    responses: {
      200: '"ok"',
      404: "unknown id",
      409: "a known status the campaign cannot move to from its current one; labels sent once the campaign has left created",
      422: "not a status; invalid labels; labels_from naming a campaign that does not exist or has no schema; labels with labels_from or with new_status",
    },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
