import { z } from "zod";
import type { HttpFunctionDefinition } from "./definition.js";

function jsonSchema(schema: z.ZodType): unknown {
  // The request side of each schema (before transforms), as clients send it.
  return z.toJSONSchema(schema, { io: "input", unrepresentable: "any" });
}

const errorSchema = {
  type: "object",
  required: ["status", "detail"],
  properties: { status: { type: "integer" }, detail: { type: "string", description: "what was wrong, naming the field or entry" } },
};

/**
 * The OpenAPI 3 document of every HTTP function, built from the route table and the very zod schemas
 * the handlers validate with, so it cannot drift from what the API accepts.
 */
export function openApiDocument(functions: HttpFunctionDefinition[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const fn of functions) {
    const path = "/" + fn.route.replace(/^v1\//, "").replace(/\{([A-Za-z_]+)(:[a-z]+)?\}/g, "{$1}");
    const params = [...fn.route.matchAll(/\{([A-Za-z_]+)(?::([a-z]+))?\}/g)].map((m) => ({
      name: m[1],
      in: "path",
      required: true,
      schema: m[2] === "int" ? { type: "integer", minimum: 1 } : { type: "string" },
    }));
    const query = fn.doc.query ? (jsonSchema(fn.doc.query) as { properties?: Record<string, unknown> }) : undefined;
    const queryParams = Object.entries(query?.properties ?? {}).map(([name, schema]) => ({ name, in: "query", required: false, schema }));
    for (const method of fn.methods) {
      (paths[path] ??= {})[method.toLowerCase()] = {
        operationId: fn.name,
        summary: fn.doc.summary,
        description: `Access: ${fn.doc.access}.`,
        parameters: [...params, ...queryParams],
        ...(fn.doc.body ? { requestBody: { required: true, content: { "application/json": { schema: jsonSchema(fn.doc.body) } } } } : {}),
        security: fn.doc.access === "public" ? [] : [{ key: [], secret: [] }],
        responses: Object.fromEntries(
          Object.entries({
            ...fn.doc.responses,
            ...(fn.doc.access === "public" ? {} : { 401: "missing or wrong key/secret", 403: "key without the role" }),
            503: "storage did not answer, or a write lost every concurrency race: send the same request again",
          }).map(([status, description]) => [
            status,
            Number(status) >= 400
              ? { description, content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } }
              : { description, ...(status === "303" ? {} : { content: { "application/json": {} } }) },
          ]),
        ),
      };
    }
  }
  return {
    openapi: "3.1.0",
    info: { title: "Image labeling pipeline API", version, description: "The v1 label-store API (seed 001) plus review, exports and masks." },
    servers: [{ url: "/api/v1" }],
    paths,
    components: {
      schemas: { Error: errorSchema },
      securitySchemes: {
        key: { type: "apiKey", in: "header", name: "Authentication-Key" },
        secret: { type: "apiKey", in: "header", name: "Authentication-Secret" },
      },
    },
  };
}
