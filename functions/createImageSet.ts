import { app } from "@azure/functions";
import { imageSetView } from "../shared/app/views.js";
import { createImageSet } from "../shared/app/imageSets.js";
import { createImageSetSchema } from "../shared/domain/imageSets.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { json, readBody } from "../shared/http/request.js";

export const handler = endpoint("admin", async (request, { services, principal }) => {
  const body = await readBody(request, createImageSetSchema, services.config.settings.MAX_BODY_BYTES);
  const set = await createImageSet(services, principal, body.title, body.metadata ?? null);
  return json(201, await imageSetView(services, set));
});

export const definition: HttpFunctionDefinition = {
  name: "createImageSet",
  methods: ["POST"],
  route: "v1/image_sets",
  handler,
  doc: {
    summary: "Create an image set and its dropbox container",
    access: "admin",
    body: createImageSetSchema,
    responses: { 201: "the image set, with its dropbox_url", 409: "title taken", 422: "title cannot name a container, or metadata over its limits" },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
