import { requireAdmin, type Principal } from "../auth.js";
import { ApiError, ConcurrencyError } from "../errors.js";
import { getServices, type Services } from "../services.js";
import { isUnavailable } from "../storage/tableErrors.js";
import { json, type RequestLike, type ResponseInit } from "./request.js";

/** The part of the host's InvocationContext that handlers use. */
export interface InvocationLike {
  readonly invocationId: string;
  log(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

export interface Call {
  services: Services;
  principal: Principal;
  context: InvocationLike;
}

export type Access = "admin" | "any-user" | "public";

/**
 * Wraps a route: authenticates, enforces the role, and turns every failure into the contract's JSON
 * error. Bad input never becomes a 500; an unexpected failure is logged with its stack and answered
 * with a 500 (or 503 for storage being unavailable) whose body holds no stack.
 */
export function endpoint(access: Access, handler: (request: RequestLike, call: Call) => Promise<ResponseInit>) {
  return async (request: RequestLike, context: InvocationLike): Promise<ResponseInit> => {
    try {
      const services = getServices();
      const principal: Principal = access === "public" ? { apikey: "", role: "labeler", email: "" } : await services.users.authenticate(request.headers);
      if (access === "admin") requireAdmin(principal);
      const response = await handler(request, { services, principal, context });
      // The key's last use, at most about once a minute; only for answers that refused nothing, so a refused request changes nothing.
      if (access !== "public" && response.status < 400) await services.users.recordUse(principal);
      return response;
    } catch (error) {
      return errorResponse(error, context);
    }
  };
}

/**
 * The answer to a failed call: an {@link ApiError} as its status and detail; a write that lost every
 * concurrency race ({@link ConcurrencyError}) or storage that could not answer (see `isUnavailable`) as a
 * 503 to send again; anything else as a 500 naming the invocation, its stack only in the log.
 */
export function errorResponse(error: unknown, context: InvocationLike): ResponseInit {
  if (error instanceof ApiError) return json(error.status, { ...error.extra, status: error.status, detail: error.detail });
  if (error instanceof ConcurrencyError) {
    // Each attempt is a conditional write, so what the request wrote before giving up is whole and the same request again completes it.
    context.log(`busy: ${error.message}`);
    return json(503, { status: 503, detail: `${error.message}; send the request again` });
  }
  if (isUnavailable(error)) {
    context.error(`storage unavailable: ${error instanceof Error ? error.stack : String(error)}`);
    return json(503, { status: 503, detail: "storage is unavailable; try again shortly" });
  }
  context.error(`unexpected failure: ${error instanceof Error ? error.stack : String(error)}`);
  return json(500, { status: 500, detail: `internal error; quote invocation ${context.invocationId} when reporting it` });
}
