import { app } from "@azure/functions";
import { addImagesToSet } from "../shared/app/imageSets.js";
import { imageRefsSchema } from "../shared/domain/imageSets.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { idParam, ok, readBody } from "../shared/http/request.js";

export const handler = endpoint("admin", async (request, { services }) => {
  const imagesetId = idParam(request, "imagesetId");
  const refs = await readBody(request, imageRefsSchema, services.config.settings.MAX_BODY_BYTES);
  await addImagesToSet(services, imagesetId, refs);
  return ok();
});

export const definition: HttpFunctionDefinition = {
  name: "addImageSetImages",
  methods: ["POST"],
  route: "v1/image_sets/{imagesetId:int}/images",
  handler,
  doc: {
    summary: "Add already-stored images to a set, by id or filepath, while it is created",
    access: "admin",
    body: imageRefsSchema,
    responses: { 200: '"ok"', 404: "unknown set", 409: "set is not created", 422: "unknown image" },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
