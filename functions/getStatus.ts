import { app } from "@azure/functions";
import { healthReport } from "../shared/app/health.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import { endpoint } from "../shared/http/endpoint.js";
import { json } from "../shared/http/request.js";

export const handler = endpoint("admin", async (_request, { services }) => {
  const report = await healthReport(services);
  return json(report.healthy ? 200 : 503, report);
});

export const definition: HttpFunctionDefinition = {
  name: "getStatus",
  methods: ["GET"],
  route: "v1/info/status",
  handler,
  doc: {
    summary: "Health of storage, queues and the Azure ML workspace",
    access: "admin",
    responses: { 200: "healthy", 503: "something is down (see checks)" },
  },
};

app.http(definition.name, { methods: definition.methods, route: definition.route, authLevel: "anonymous", handler });
