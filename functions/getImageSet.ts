import { app } from "@azure/functions";
import { imageSetView } from "../shared/app/views.js";
import { getImageSet } from "../shared/app/imageSets.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { idParam, json } from "../shared/http/request.js";

export const handler = endpoint("admin", async (request, { services }) => {
  const set = await getImageSet(services, idParam(request, "imagesetId"));
  return json(200, await imageSetView(services, set));
});

export const definition: HttpFunctionDefinition = {
  name: "getImageSet",
  methods: ["GET"],
  route: "v1/image_sets/{imagesetId:int}",
  handler,
  doc: { summary: "One image set, with the files its copy rejected", access: "admin", responses: { 200: "the image set", 404: "unknown id" } },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
