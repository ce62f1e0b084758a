import { app } from "@azure/functions";
import { submitObjects } from "../shared/app/campaigns.js";
import { submissionSchema } from "../shared/domain/submissions.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { idParam, ok, readBody } from "../shared/http/request.js";

export const handler = endpoint("any-user", async (request, { services, principal }) => {
  const campaignId = idParam(request, "campaignId");
  const batch = await readBody(request, submissionSchema, services.config.settings.MAX_BODY_BYTES);
  await submitObjects(services, principal, campaignId, batch);
  return ok();
});

export const definition: HttpFunctionDefinition = {
  name: "submitCampaignObjects",
  methods: ["PUT"],
  route: "v1/campaigns/{campaignId:int}/objects",
  handler,
  doc: {
    summary:
      "Submit labels: replaces each listed image's objects (an empty list marks it labeled with none); the whole batch is rejected if any entry is invalid",
    access: "admin or the campaign's labeler",
    body: submissionSchema,
    responses: {
      200: '"ok"',
      404: "unknown campaign, or not the labeler's",
      403: "the campaign is finished: partner access has ended",
      409: "campaign is not active",
      413: "body too large, or an entry's objects over what one image may store (named)",
      422: "invalid entry, named",
      503: "could not be stored; nothing was, send again",
    },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
