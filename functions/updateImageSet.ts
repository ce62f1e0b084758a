import { app } from "@azure/functions";
import { changeImageSetStatus } from "../shared/app/imageSets.js";
import { updateImageSetSchema } from "../shared/domain/imageSets.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { idParam, ok, readBody } from "../shared/http/request.js";

export const handler = endpoint("admin", async (request, { services }) => {
  const imagesetId = idParam(request, "imagesetId");
  const body = await readBody(request, updateImageSetSchema, services.config.settings.MAX_BODY_BYTES);
  await changeImageSetStatus(services, imagesetId, body.new_status);
  return ok();
});

export const definition: HttpFunctionDefinition = {
  name: "updateImageSet",
  methods: ["PUT"],
  route: "v1/image_sets/{imagesetId:int}",
  handler,
  doc: {
    summary: "Finish an image set: its dropbox is copied into the store in the background",
    access: "admin",
    body: updateImageSetSchema,
    responses: {
      200: '"ok"',
      404: "unknown id",
      409: "a known status that cannot be requested now (only finished, from created or failed)",
      422: "not a status",
    },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
