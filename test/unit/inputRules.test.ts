import type { TransactionAction } from "@azure/data-tables";
import { describe, expect, it } from "vitest";
import { canTransition, createCampaignSchema, partnerMayAccess, updateCampaignSchema } from "../../shared/domain/campaigns.js";
import { imageRefsSchema, updateImageSetSchema } from "../../shared/domain/imageSets.js";
import { jsonDepth, jsonFieldProblem, jsonTextDepth, labelProblem, LIMITS, relativePathProblem } from "../../shared/domain/inputRules.js";
import { countsAsDone } from "../../shared/domain/labels.js";
import { prepareSubmission, submissionSchema } from "../../shared/domain/submissions.js";
import { ApiError } from "../../shared/errors.js";
import { MAX_JSON_COLUMN_CHARS, toJsonColumns } from "../../shared/storage/jsonColumns.js";
import { bucketOf, groupByBucket } from "../../shared/storage/buckets.js";
import { entityBytes, MAX_ENTITY_BYTES, MAX_TRANSACTION_BYTES, planTransactions } from "../../shared/storage/transactions.js";

describe("the relative-path rule (dropbox names, filepath, output_folder)", () => {
  it.each([
    ["car.png"],
    ["sub/dir/photo.jpg"],
    ["with space & unicode é 漢字 😀.png"],
    ["50% off.png"],
    ["a".repeat(255)],
    [Array.from({ length: 32 }, () => "d").join("/")],
  ])("accepts %j", (name) => expect(relativePathProblem(name)).toBeNull());

  it.each([
    ["", /empty/],
    ["../x.png", /'\.\.' segment/],
    ["a/../../b", /'\.\.' segment/],
    ["a/./b", /'\.' segment/],
    [".", /'\.' segment/],
    ["/abs.png", /starts with '\/'/],
    ["dir/", /ends with '\/'/],
    ["a//b", /empty segment/],
    ["a\\..\\b", /backslash/],
    ["%2E%2E/x", /percent-escape %2E/],
    ["p/%2e%2e/inner.png", /percent-escape %2e/],
    ["x%2Fy", /percent-escape %2F/],
    ["nul\u0000.png", /control character U\+0000/],
    ["tab\t.png", /control character U\+0009/],
    ["del\u007f.png", /control character U\+007F/],
    ["c1\u0085.png", /control character U\+0085/],
    ["lone\ud800.png", /unpaired UTF-16 surrogate/],
    ["x".repeat(513), /longer than 512/],
    ["a".repeat(256), /segment longer than 255/],
    [Array.from({ length: 33 }, () => "d").join("/"), /more than 32 segments/],
    ["ends.", /ends with a dot/],
  ])("refuses %j", (name, reason) => expect(relativePathProblem(name)).toMatch(reason));

  it("is what the filepath field applies, forgiving a leading slash", () => {
    expect(imageRefsSchema.safeParse([{ filepath: "/uploads/set/a.png" }]).data).toEqual([{ filepath: "uploads/set/a.png" }]);
    const refused = imageRefsSchema.safeParse([{ filepath: "uploads/../secret.png" }]);
    expect(refused.success).toBe(false);
    expect(refused.error?.issues[0]?.message).toMatch(/filepath holds a '\.\.' segment/);
  });
});

describe("labels", () => {
  it("are 1 to 256 characters without control characters", () => {
    expect(labelProblem("Plastic")).toBeNull();
    expect(labelProblem("x".repeat(256))).toBeNull();
    expect(labelProblem("")).toMatch(/empty/);
    expect(labelProblem("x".repeat(257))).toMatch(/longer than 256/);
    expect(labelProblem("a\u0000b")).toMatch(/U\+0000/);
    expect(labelProblem("line\nbreak")).toMatch(/U\+000A/);
  });

  it("are trimmed and checked in submissions and translations", () => {
    const parsed = submissionSchema.safeParse([{ image_id: 1, objects: [{ label: "  cat ", bounding_box: { xmin: 0, xmax: 1, ymin: 0, ymax: 1 } }] }]);
    expect(parsed.data?.[0]?.objects[0]?.label).toBe("cat");
    const bad = submissionSchema.safeParse([{ image_id: 1, objects: [{ label: "a\u0007", bounding_box: { xmin: 0, xmax: 1, ymin: 0, ymax: 1 } }] }]);
    expect(bad.error?.issues[0]?.path).toEqual([0, "objects", 0, "label"]);
    const translations = createCampaignSchema.safeParse({ title: "t", labeler_email: "a@example.com", label_translations: { " Kat ": " cat " } });
    expect(translations.data?.label_translations).toEqual({ Kat: "cat" });
    const nul = createCampaignSchema.safeParse({ title: "t", labeler_email: "a@example.com", label_translations: { "a\u0000": "b" } });
    expect(nul.error?.issues[0]?.message).toMatch(/label_translations entry .*control character U\+0000/);
  });
});

describe("JSON-valued fields and bodies", () => {
  it("measure depth without recursion, on values and on raw text", () => {
    expect(jsonDepth(1)).toBe(0);
    expect(jsonDepth({ a: { b: [1] } })).toBe(3);
    let deep: unknown = 0;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(jsonDepth(deep, 25)).toBe(26);
    expect(jsonTextDepth('{"a":"[[[[","b":[{"c":"\\"]"}]}')).toBe(3);
    expect(jsonTextDepth("[".repeat(5000) + "]".repeat(5000))).toBe(5000);
  });

  it("hold metadata of at most 16 KiB nested at most 20 deep", () => {
    expect(jsonFieldProblem({ country: "Nederland" })).toBeNull();
    expect(jsonFieldProblem({ blob: "x".repeat(LIMITS.jsonFieldBytes) })).toMatch(/bytes of JSON; at most 16384/);
    let nested: Record<string, unknown> = {};
    for (let i = 0; i < 20; i++) nested = { n: nested };
    expect(jsonFieldProblem(nested)).toMatch(/deeper than 20/);
  });
});

describe("stored sizes are known to the validator", () => {
  it("an image's largest valid objects fit one entity, and one more character is refused before any write", () => {
    expect(LIMITS.objectsJsonChars).toBeLessThanOrEqual(MAX_JSON_COLUMN_CHARS);
    const columns = toJsonColumns("objects", "y".repeat(LIMITS.objectsJsonChars - 2));
    expect(entityBytes({ partitionKey: "campaign!000000000001", rowKey: "img!key!000000000001", labelStatus: "user_complete", ...columns })).toBeLessThan(
      MAX_ENTITY_BYTES - 16 * 1024,
    );
    expect(() => toJsonColumns("objects", "y".repeat(MAX_JSON_COLUMN_CHARS))).toThrow(RangeError);
  });

  it("refuses an entry whose objects exceed what one image may store with a 413 naming it", () => {
    const polygon = Array.from({ length: 10_000 }, (_, i): [number, number] => [(i % 100) + 0.123456789, (i % 50) + 0.987654321]);
    const batch = submissionSchema.parse([
      { image_id: 1, objects: [] },
      { image_id: 2, objects: [1, 2, 3].map(() => ({ label: "p", polygon })) },
    ]);
    const sizes = new Map([
      [1, { width: 200, height: 200 }],
      [2, { width: 200, height: 200 }],
    ]);
    let thrown: unknown;
    try {
      prepareSubmission(batch, sizes, null);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ApiError);
    expect((thrown as ApiError).status).toBe(413);
    expect((thrown as ApiError).detail).toMatch(/^body\[1\]\.objects: \d+ characters/);
  });

  it("plans transactions within 100 operations and the byte budget", () => {
    const small = Array.from({ length: 250 }, (_, i): TransactionAction => ["create", { partitionKey: "p", rowKey: String(i) }]);
    expect(planTransactions(small).map((t) => t.length)).toEqual([100, 100, 50]);
    const big = Array.from({ length: 10 }, (_, i): TransactionAction => ["create", { partitionKey: "p", rowKey: String(i), text: "x".repeat(400_000) }]);
    const plan = planTransactions(big);
    for (const transaction of plan)
      expect(transaction.reduce((sum, a) => sum + entityBytes(a[1] as Record<string, unknown>), 0)).toBeLessThanOrEqual(MAX_TRANSACTION_BYTES);
    expect(plan.flat()).toHaveLength(10);
  });
});

describe("status rules", () => {
  it("answer a conflict for any known status that is not a legal move, and leave unknown values to validation", () => {
    expect(canTransition("created", "active")).toBe(true);
    expect(canTransition("active", "created")).toBe(false);
    expect(canTransition("completed", "finishing")).toBe(false);
    expect(updateCampaignSchema.safeParse({ new_status: "created" }).success).toBe(true);
    expect(updateCampaignSchema.safeParse({ new_status: "bogus" }).success).toBe(false);
    expect(updateImageSetSchema.safeParse({ new_status: "processing" }).success).toBe(true);
    expect(updateImageSetSchema.safeParse({ new_status: "done" }).success).toBe(false);
  });

  it("end a partner's access once finishing is requested", () => {
    expect(["created", "active", "completed"].every((s) => partnerMayAccess(s as never))).toBe(true);
    expect(["finishing", "finished", "finish_failed"].some((s) => partnerMayAccess(s as never))).toBe(false);
    expect(countsAsDone("user_complete") && countsAsDone("admin_complete")).toBe(true);
    expect(countsAsDone("rejected") || countsAsDone("unlabeled")).toBe(false);
  });
});

describe("buckets", () => {
  it("group ids by bucket of 1,000, sorted and unique", () => {
    expect(bucketOf(999)).toBe(0);
    expect(bucketOf(1000)).toBe(1);
    expect([...groupByBucket([2001, 5, 1000, 5, 999, 3])]).toEqual([
      [0, [3, 5, 999]],
      [1, [1000]],
      [2, [2001]],
    ]);
  });

  it("plan transactions per partition", () => {
    const actions: TransactionAction[] = [
      ["create", { partitionKey: "a", rowKey: "1" }],
      ["create", { partitionKey: "b", rowKey: "1" }],
      ["create", { partitionKey: "a", rowKey: "2" }],
    ];
    expect(planTransactions(actions).map((t) => t.map((a) => `${a[1].partitionKey}${a[1].rowKey}`))).toEqual([["a1", "a2"], ["b1"]]);
  });
});
