import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpFunctions } from "../../functions/index.js";
import { call, startTestStack, type TestStack } from "../support/stack.js";

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ workers: false });
});
afterAll(async () => stack?.stop());

describe("OpenAPI document", () => {
  it("is served without a key and covers every route and method, with the handlers' own body schemas", async () => {
    const r = await call(stack, "GET", "/openapi.json", {});
    expect(r.status).toBe(200);
    const doc = r.body;
    expect(doc.openapi).toMatch(/^3\./);
    const operations = Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({ path, method: method.toUpperCase(), op })),
    );
    for (const fn of httpFunctions) {
      const path = "/" + fn.route.replace(/^v1\//, "").replace(/\{([A-Za-z_]+)(:[a-z]+)?\}/g, "{$1}");
      for (const method of fn.methods) {
        const found = operations.find((o) => o.path === path && o.method === method);
        expect(found, `${method} ${path}`).toBeDefined();
        expect(found!.op.operationId).toBe(fn.name);
        // Every route may answer 503 (storage down, or a write that lost every race), with the error body.
        expect(found!.op.responses["503"].content["application/json"].schema.$ref, `${method} ${path}`).toBe("#/components/schemas/Error");
        if (fn.doc.body) expect(found!.op.requestBody.content["application/json"].schema, fn.name).toBeTypeOf("object");
      }
    }
    expect(operations).toHaveLength(httpFunctions.reduce((n, fn) => n + fn.methods.length, 0));
    // The submission schema is the validator's: the bounding box fields and the label rule show through.
    const submit = operations.find((o) => o.op.operationId === "submitCampaignObjects")!.op;
    const item = submit.requestBody.content["application/json"].schema.items;
    expect(item.required).toEqual(["image_id", "objects"]);
    expect(JSON.stringify(item)).toContain("bounding_box");
  });

  it("the version and status routes answer", async () => {
    expect((await call(stack, "GET", "/info/version", stack.admin)).body.api).toBe("v1");
    const status = await call(stack, "GET", "/info/status", stack.admin);
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({
      healthy: true,
      checks: { blob_storage: { ok: true }, table_storage: { ok: true }, queues: { ok: true }, azure_ml: { ok: true, detail: "not configured" } },
    });
  });
});
