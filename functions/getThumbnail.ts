import { app } from "@azure/functions";
import { imageFor } from "../shared/app/images.js";
import { thumbnailLink } from "../shared/app/thumbnails.js";
import { DEFAULT_THUMBNAIL_SIZE, thumbnailQuerySchema } from "../shared/domain/thumbnails.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { idParam, queryObject, validate, type ResponseInit } from "../shared/http/request.js";

export const handler = endpoint("any-user", async (request, { services, principal }): Promise<ResponseInit> => {
  const imageId = idParam(request, "imageId");
  const query = validate(thumbnailQuerySchema, queryObject(request), "query");
  const image = await imageFor(services, principal, imageId);
  const link = await thumbnailLink(services, image, query.size ?? DEFAULT_THUMBNAIL_SIZE);
  if (query.redirect === false) return { status: 200, jsonBody: link, headers: { "Cache-Control": "no-store" } };
  return { status: 303, headers: { Location: link.url, "Cache-Control": "no-store" } };
});

export const definition: HttpFunctionDefinition = {
  name: "getThumbnail",
  methods: ["GET"],
  route: "v1/images/{imageId:int}/thumbnail",
  handler,
  doc: {
    summary: "Redirect (303) to the image's thumbnail (WebP, longest side ?size=, default 256) with a short read-only SAS; rendered once on first request",
    access: "admin or the campaign's labeler",
    query: thumbnailQuerySchema,
    responses: {
      200: "with ?redirect=false: {image_id, size, url, expires_on, image_width, image_height}",
      303: "Location: the thumbnail blob",
      404: "unknown image, not in the labeler's unfinished campaigns, or its file is missing",
      422: "invalid size or redirect, or the stored file cannot be decoded",
    },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
