import { describe, expect, it } from "vitest";
import { canTransition, campaignTitleProblem, statusAfterRequest } from "../../shared/domain/campaigns.js";
import { canRequestFinish, imageBlobPath, titleProblem } from "../../shared/domain/imageSets.js";
import { paginate, pageOffset, pageQuerySchema } from "../../shared/domain/pagination.js";
import { prepareSubmission, submissionSchema } from "../../shared/domain/submissions.js";
import { contractTimestamp } from "../../shared/domain/time.js";
import { ApiError } from "../../shared/errors.js";

describe("image set titles name containers", () => {
  it.each(["imageset-26-10-2020", "a", "set1", "x".repeat(55)])("accepts %s", (title) => expect(titleProblem(title)).toBeNull());
  it.each([
    ["", /1 to 55/],
    ["x".repeat(56), /1 to 55/],
    ["Upper", /lowercase/],
    ["under_score", /lowercase/],
    ["-lead", /start and end/],
    ["trail-", /start and end/],
    ["double--hyphen", /two hyphens/],
    ["spa ce", /lowercase/],
  ])("rejects %j", (title, why) => expect(titleProblem(title)).toMatch(why));
  it("places images under <folder>/<title>/<name>", () => {
    expect(imageBlobPath("uploads", "set-1", "a/b.png")).toBe("uploads/set-1/a/b.png");
    expect(imageBlobPath("", "set-1", "b.png")).toBe("set-1/b.png");
  });
  it("finishes only from created or failed", () => {
    expect(canRequestFinish("created")).toBe(true);
    expect(canRequestFinish("failed")).toBe(true);
    expect(canRequestFinish("processing")).toBe(false);
    expect(canRequestFinish("finished")).toBe(false);
  });
});

describe("campaign state machine", () => {
  const allowed: Array<[string, string]> = [
    ["created", "active"],
    ["active", "completed"],
    ["completed", "active"],
    ["completed", "finished"],
    ["finish_failed", "finished"],
  ];
  const statuses = ["created", "active", "completed", "finishing", "finished", "finish_failed"] as const;
  for (const from of statuses) {
    for (const to of ["active", "completed", "finished"] as const) {
      const ok = allowed.some(([f, t]) => f === from && t === to);
      it(`${from} → ${to} is ${ok ? "allowed" : "refused"}`, () => expect(canTransition(from, to)).toBe(ok));
    }
  }
  it("shows finishing until the outputs are written", () => expect(statusAfterRequest("finished")).toBe("finishing"));
  it("keeps titles to file- and asset-safe characters", () => {
    expect(campaignTitleProblem("campaign-26-10-2020")).toBeNull();
    expect(campaignTitleProblem("a/b")).toMatch(/letters, digits/);
    expect(campaignTitleProblem("")).toMatch(/1 to 200/);
  });
});

describe("pagination", () => {
  it("computes pages, next and prev", () => {
    expect(paginate({ page: 1, perPage: 10 }, 0)).toEqual({ page: 1, pages: 1, per_page: 10, total: 0, next: null, prev: null });
    expect(paginate({ page: 2, perPage: 10 }, 25)).toEqual({ page: 2, pages: 3, per_page: 10, total: 25, next: 3, prev: 1 });
    expect(paginate({ page: 3, perPage: 10 }, 25)).toMatchObject({ next: null, prev: 2 });
    expect(paginate({ page: 9, perPage: 10 }, 25)).toMatchObject({ next: null, prev: 3 });
    expect(pageOffset({ page: 3, perPage: 100 })).toBe(200);
  });
  it("defaults and caps the query", () => {
    expect(pageQuerySchema(100).parse({})).toEqual({ page: 1, per_page: 100 });
    expect(pageQuerySchema(100).safeParse({ per_page: "5000" }).success).toBe(false);
    expect(pageQuerySchema(100).safeParse({ page: "0" }).success).toBe(false);
    expect(pageQuerySchema(100).safeParse({ page: "x" }).success).toBe(false);
  });
});

describe("label submissions", () => {
  const sizes = new Map([
    [1, { width: 200, height: 100 }],
    [2, { width: 50, height: 50 }],
  ]);
  const prepare = (body: unknown, translations: Record<string, string> | null = null) => prepareSubmission(submissionSchema.parse(body), sizes, translations);
  const rejects = (body: unknown, detail: RegExp) => {
    try {
      prepare(body);
    } catch (error) {
      expect(error).toBeInstanceOf(ApiError);
      expect((error as ApiError).status).toBe(422);
      expect((error as ApiError).detail).toMatch(detail);
      return;
    }
    throw new Error("expected a rejection");
  };

  it("translates labels and keeps the original", () => {
    const [entry] = prepare([{ image_id: 1, objects: [{ label: "Plastic", bounding_box: { xmin: 0, xmax: 200, ymin: 0, ymax: 100 } }] }], {
      Plastic: "plastic_waste",
    });
    expect(entry!.objects[0]).toEqual({
      label_original: "Plastic",
      label_translated: "plastic_waste",
      confidence: null,
      bounding_box: { xmin: 0, xmax: 200, ymin: 0, ymax: 100 },
      polygon: null,
    });
  });
  it("accepts an empty object list", () => expect(prepare([{ image_id: 2, objects: [] }])).toEqual([{ imageId: 2, objects: [] }]));
  it("rejects a box outside the image, naming the entry", () =>
    rejects(
      [
        { image_id: 1, objects: [] },
        { image_id: 2, objects: [{ label: "a", bounding_box: { xmin: 0, xmax: 51, ymin: 0, ymax: 10 } }] },
      ],
      /body\[1\]\.objects\[0\]\.bounding_box.*outside the image \(50x50\)/,
    ));
  it("rejects an inverted box", () =>
    rejects([{ image_id: 1, objects: [{ label: "a", bounding_box: { xmin: 5, xmax: 5, ymin: 0, ymax: 10 } }] }], /xmin \(5\) must be less than xmax/));
  it("rejects a polygon point outside", () =>
    rejects(
      [
        {
          image_id: 2,
          objects: [
            {
              label: "a",
              polygon: [
                [0, 0],
                [10, 0],
                [10, 60],
              ],
            },
          ],
        },
      ],
      /polygon\[2\].*outside/,
    ));
  it("rejects an image not in the campaign", () => rejects([{ image_id: 3, objects: [] }], /image 3 is not part of this campaign/));
  it("rejects an image twice in one batch", () =>
    rejects(
      [
        { image_id: 1, objects: [] },
        { image_id: 1, objects: [] },
      ],
      /appears twice/,
    ));
  it("schema refuses empty labels, bad confidence, short polygons, shapeless objects and unknown fields", () => {
    const bad = [
      [{ image_id: 1, objects: [{ label: " ", bounding_box: { xmin: 0, xmax: 1, ymin: 0, ymax: 1 } }] }],
      [{ image_id: 1, objects: [{ label: "a", confidence: 1.5, bounding_box: { xmin: 0, xmax: 1, ymin: 0, ymax: 1 } }] }],
      [
        {
          image_id: 1,
          objects: [
            {
              label: "a",
              polygon: [
                [0, 0],
                [1, 1],
              ],
            },
          ],
        },
      ],
      [{ image_id: 1, objects: [{ label: "a" }] }],
      [{ image_id: 1, objects: [], extra: true }],
      [{ image_id: "1", objects: [] }],
      [],
    ];
    for (const body of bad) expect(submissionSchema.safeParse(body).success, JSON.stringify(body)).toBe(false);
  });
});

describe("timestamps", () => {
  it("have microseconds and Z", () => expect(contractTimestamp(new Date("2020-10-26T07:44:56.562Z"))).toBe("2020-10-26T07:44:56.562000Z"));
});
