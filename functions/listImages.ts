import { app } from "@azure/functions";
import { imagesPage } from "../shared/app/images.js";
import { imageView } from "../shared/app/views.js";
import { pageQuerySchema, paginate } from "../shared/domain/pagination.js";
import { pageRequest, type HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { json } from "../shared/http/request.js";

export const handler = endpoint("admin", async (request, { services }) => {
  const page = pageRequest(request, 100);
  const { total, images } = await imagesPage(services, page);
  return json(200, { images: images.map(imageView), pagination: paginate(page, total) });
});

export const definition: HttpFunctionDefinition = {
  name: "listImages",
  methods: ["GET"],
  route: "v1/images",
  handler,
  doc: { summary: "All stored images (100 per page by default)", access: "admin", query: pageQuerySchema(100), responses: { 200: "paged images" } },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
