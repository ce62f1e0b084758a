import { app } from "@azure/functions";
import { imageView } from "../shared/app/views.js";
import { imageSetImagesPage } from "../shared/app/imageSets.js";
import { pageQuerySchema, paginate } from "../shared/domain/pagination.js";
import { pageRequest, type HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { idParam, json } from "../shared/http/request.js";

export const handler = endpoint("admin", async (request, { services }) => {
  const page = pageRequest(request, 100);
  const { total, images } = await imageSetImagesPage(services, idParam(request, "imagesetId"), page);
  return json(200, { images: images.map(imageView), pagination: paginate(page, total) });
});

export const definition: HttpFunctionDefinition = {
  name: "listImageSetImages",
  methods: ["GET"],
  route: "v1/image_sets/{imagesetId:int}/images",
  handler,
  doc: {
    summary: "The images of one set (100 per page by default)",
    access: "admin",
    query: pageQuerySchema(100),
    responses: { 200: "paged images", 404: "unknown id" },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
