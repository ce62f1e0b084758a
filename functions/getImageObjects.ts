import { app } from "@azure/functions";
import { imageObjects } from "../shared/app/campaigns.js";
import { imageObjectsQuerySchema } from "../shared/domain/campaigns.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { idParam, json, queryObject, validate } from "../shared/http/request.js";

export const handler = endpoint("admin", async (request, { services }) => {
  const imageId = idParam(request, "imageId");
  const { campaigns } = validate(imageObjectsQuerySchema, queryObject(request), "query");
  return json(200, await imageObjects(services, imageId, campaigns));
});

export const definition: HttpFunctionDefinition = {
  name: "getImageObjects",
  methods: ["GET"],
  route: "v1/images/{imageId:int}/objects",
  handler,
  doc: {
    summary: "An image's current objects: from the first listed campaign that has some, else the most recently finished campaign's",
    access: "admin",
    query: imageObjectsQuerySchema,
    responses: { 200: "the JSON array of objects ([] when no campaign has labels)", 404: "unknown image" },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
