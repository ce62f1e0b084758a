import { app } from "@azure/functions";
import { imageSetsPage } from "../shared/app/imageSets.js";
import { imageSetView } from "../shared/app/views.js";
import { paginate } from "../shared/domain/pagination.js";
import { pageRequest, type HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { json } from "../shared/http/request.js";
import { pageQuerySchema } from "../shared/domain/pagination.js";

export const handler = endpoint("admin", async (request, { services }) => {
  const page = pageRequest(request, 10);
  const { total, sets } = await imageSetsPage(services, page);
  return json(200, { image_sets: await Promise.all(sets.map((set) => imageSetView(services, set, false))), pagination: paginate(page, total) });
});

export const definition: HttpFunctionDefinition = {
  name: "listImageSets",
  methods: ["GET"],
  route: "v1/image_sets",
  handler,
  doc: { summary: "List image sets (10 per page by default)", access: "admin", query: pageQuerySchema(10), responses: { 200: "paged image_sets" } },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
