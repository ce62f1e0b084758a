import { app } from "@azure/functions";
import { thumbnailLinks } from "../shared/app/thumbnails.js";
import { DEFAULT_THUMBNAIL_SIZE, thumbnailsQuerySchema } from "../shared/domain/thumbnails.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { queryObject, validate, type ResponseInit } from "../shared/http/request.js";

export const handler = endpoint("any-user", async (request, { services, principal }): Promise<ResponseInit> => {
  const query = validate(thumbnailsQuerySchema, queryObject(request), "query");
  const thumbnails = await thumbnailLinks(services, principal, query.ids, query.size ?? DEFAULT_THUMBNAIL_SIZE, query.inline ?? false);
  return { status: 200, jsonBody: { thumbnails }, headers: { "Cache-Control": "no-store" } };
});

export const definition: HttpFunctionDefinition = {
  name: "listThumbnails",
  methods: ["GET"],
  route: "v1/images/thumbnails",
  handler,
  doc: {
    summary:
      "Many thumbnails at once (?ids=1,2,3, up to 100; ?size= as on /images/{id}/thumbnail; ?inline=true adds each small rendition as data_url): {thumbnails: [{image_id, size, url, expires_on, image_width, image_height, data_url?} or {image_id, status, detail}]}, in the order asked",
    access: "admin or the campaign's labeler",
    query: thumbnailsQuerySchema,
    responses: {
      200: "one entry per id: a link, or the status and detail of the image that has none (404 unknown or not the labeler's, 422 undecodable)",
      422: "invalid ids or size",
    },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
