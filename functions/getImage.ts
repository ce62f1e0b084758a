import { app } from "@azure/functions";
import { labelerMaySee } from "../shared/app/campaigns.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { idParam } from "../shared/http/request.js";
import { notFound } from "../shared/errors.js";

export const handler = endpoint("any-user", async (request, { services, principal }) => {
  const imageId = idParam(request, "imageId");
  const image = await services.images.get(imageId);
  // A labeler learns nothing of images outside its campaigns: the same 404 as an unknown id.
  if (!image || (principal.role !== "image-admin" && !(await labelerMaySee(services, principal, imageId)))) {
    throw notFound(`image ${imageId} does not exist`);
  }
  const expiresOn = new Date(Date.now() + services.config.settings.READ_SAS_MINUTES * 60_000);
  const location = await services.sas.blobUrl(services.config.imageContainer, image.blobPath, "r", expiresOn);
  return { status: 303, headers: { Location: location, "Cache-Control": "no-store" } };
});

export const definition: HttpFunctionDefinition = {
  name: "getImage",
  methods: ["GET"],
  route: "v1/images/{imageId:int}",
  handler,
  doc: { summary: "Redirect (303) to the image blob with a short read-only SAS", access: "admin or the campaign's labeler", responses: { 303: "Location: the blob", 404: "unknown image, or not in the labeler's unfinished campaigns" } },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
