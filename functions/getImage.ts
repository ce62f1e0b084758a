import { app } from "@azure/functions";
import { imageLink } from "../shared/app/images.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { idParam } from "../shared/http/request.js";

export const handler = endpoint("any-user", async (request, { services, principal }) => {
  const location = await imageLink(services, principal, idParam(request, "imageId"));
  return { status: 303, headers: { Location: location, "Cache-Control": "no-store" } };
});

export const definition: HttpFunctionDefinition = {
  name: "getImage",
  methods: ["GET"],
  route: "v1/images/{imageId:int}",
  handler,
  doc: {
    summary: "Redirect (303) to the image blob with a short read-only SAS",
    access: "admin or the campaign's labeler",
    responses: { 303: "Location: the blob", 404: "unknown image, or not in the labeler's unfinished campaigns" },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
