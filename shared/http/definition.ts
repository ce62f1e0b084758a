import type { z } from "zod";
import { pageQuerySchema, type PageRequest } from "../domain/pagination.js";
import type { InvocationLike } from "./endpoint.js";
import { queryObject, validate, type RequestLike, type ResponseInit } from "./request.js";

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/**
 * What each HTTP function file exports beside its `app.http` registration, so the local host and the
 * OpenAPI document serve exactly what Azure serves.
 */
export interface HttpFunctionDefinition {
  name: string;
  methods: HttpMethod[];
  /** Functions route template under the `api` prefix, e.g. `v1/image_sets/{imagesetId:int}`. */
  route: string;
  handler: (request: RequestLike, context: InvocationLike) => Promise<ResponseInit>;
  doc: RouteDoc;
}

/** OpenAPI facts about a route; bodies and queries come from the same zod schemas the handler validates with. */
export interface RouteDoc {
  summary: string;
  access: "admin" | "admin or the campaign's labeler" | "admin or the key's own labeler" | "any user" | "public";
  body?: z.ZodType;
  query?: z.ZodType;
  responses: Record<number, string>;
}

/** The `?page=&per_page=` of a list route (other query keys are ignored here); 422 for values out of range. */
export function pageRequest(request: RequestLike, defaultPerPage: number): PageRequest {
  const { page, per_page } = validate(pageQuerySchema(defaultPerPage), pick(queryObject(request), ["page", "per_page"]), "query");
  return { page, perPage: per_page };
}

function pick(source: Record<string, string>, keys: string[]): Record<string, string> {
  return Object.fromEntries(keys.filter((k) => k in source).map((k) => [k, source[k]!]));
}
