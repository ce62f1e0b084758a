import { AzureNamedKeyCredential, RestError, TableClient } from "@azure/data-tables";
import { describe, expect, it } from "vitest";
import { ApiError, ConcurrencyError } from "../../shared/errors.js";
import { errorResponse, type InvocationLike } from "../../shared/http/endpoint.js";
import { freePort } from "../../scripts/azurite.js";

function invocation(): InvocationLike & { errors: string[] } {
  const errors: string[] = [];
  return { invocationId: "inv-1", errors, log: () => undefined, error: (...args: unknown[]) => void errors.push(args.join(" ")) };
}

describe("errorResponse: what a failure becomes on the wire", () => {
  it("answers an ApiError with its status and detail, and logs nothing", () => {
    const context = invocation();
    expect(errorResponse(new ApiError(422, "objects[0].label is empty"), context).jsonBody).toEqual({ status: 422, detail: "objects[0].label is empty" });
    expect(context.errors).toEqual([]);
  });

  it("answers 503 when the storage call never got an answer (the SDK's error, classified by its code)", async () => {
    const table = new TableClient(
      `http://127.0.0.1:${await freePort()}/devstoreaccount1`,
      "nothing",
      new AzureNamedKeyCredential("devstoreaccount1", Buffer.from("key").toString("base64")),
      { allowInsecureConnection: true, retryOptions: { maxRetries: 0 } },
    );
    const refused = await table.getEntity("p", "r").then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(RestError);
    expect((refused as RestError).code).toBe("ECONNREFUSED");
    const context = invocation();
    const answer = errorResponse(refused, context);
    expect(answer.status).toBe(503);
    expect(answer.jsonBody).toEqual({ status: 503, detail: "storage is unavailable; try again shortly" });
    expect(context.errors[0]).toContain("storage unavailable");
  });

  it("answers 503 to send again when a write lost every concurrency race, naming what was contended", () => {
    const answer = errorResponse(new ConcurrencyError("the count row of campaign 7"), invocation());
    expect(answer.status).toBe(503);
    expect(answer.jsonBody).toEqual({
      status: 503,
      detail: "gave up after repeated concurrent updates of the count row of campaign 7; send the request again",
    });
  });

  it("answers 503 for the service's own 500 and 503, and 500 naming the invocation for anything else", () => {
    for (const statusCode of [500, 503]) expect(errorResponse(new RestError("busy", { statusCode }), invocation()).status).toBe(503);
    // Classified by code and status, never by message text: a message that merely mentions a socket error is a bug of ours.
    const context = invocation();
    const answer = errorResponse(new Error("parsing failed near 'ECONNREFUSED'"), context);
    expect(answer.status).toBe(500);
    expect(answer.jsonBody).toEqual({ status: 500, detail: "internal error; quote invocation inv-1 when reporting it" });
    expect(context.errors[0]).toContain("unexpected failure");
    expect(errorResponse(new RestError("conflict", { statusCode: 409, code: "ECONNRESET" }), invocation()).status).toBe(500);
  });
});
