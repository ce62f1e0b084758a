import { describe, expect, it } from "vitest";
import { folderAncestors, labelImagesRequestSchema, toExportFilter } from "../../shared/domain/exports.js";
import { LIMITS, suffixProblem } from "../../shared/domain/inputRules.js";
import { exportSelection } from "../../shared/repos/campaigns.js";
import type { ExportImage } from "../../shared/domain/labels.js";
import { contractTimestamp } from "../../shared/domain/time.js";
import { EntryNamer, StatsCollector } from "../../shared/export/formats/common.js";
import { maskImageNames, MaskNamer } from "../../shared/jobs/maskOutputs.js";

const image = (imageId: number, blobPath: string) => ({ imageId, blobPath });

describe("mask output names", () => {
  it("keeps the default names while they are free, and the copy's extension as it is", () => {
    const namer = new MaskNamer("gt", "_gt", new StatsCollector());
    expect(namer.claim(image(1, "uploads/set/car.JPG"))).toEqual({
      names: { image: "uploads/set/car.JPG", mask: "uploads/set/car_gt.png", legend: "uploads/set/car_gt.json" },
    });
    expect(namer.claim(image(2, "uploads/set/noext"))?.names.image).toBe("uploads/set/noext");
  });

  it("renames the later image of a clash ignoring case, with the exporters' warning", () => {
    const stats = new StatsCollector();
    const namer = new MaskNamer("gt", "_gt", stats);
    const claims = [image(1, "x/a.png"), image(2, "x/a.PNG"), image(3, "y/b.png"), image(4, "y/b_gt.png"), image(5, "y/B_GT.png")].map((i) => namer.claim(i));
    expect(claims.map((c) => [c?.names.image, c?.names.mask, c?.names.legend, c?.renamedStem])).toEqual([
      ["x/a.png", "x/a_gt.png", "x/a_gt.json", undefined],
      ["x/a__2.PNG", "x/a__2_gt.png", "x/a__2_gt.json", "x/a__2"],
      ["y/b.png", "y/b_gt.png", "y/b_gt.json", undefined],
      ["y/b_gt__4.png", "y/b_gt__4_gt.png", "y/b_gt__4_gt.json", "y/b_gt__4"],
      // Its own name is taken by image 3's mask, case aside.
      ["y/B_GT__5.png", "y/B_GT__5_gt.png", "y/B_GT__5_gt.json", "y/B_GT__5"],
    ]);
    expect(stats.result().warnings).toEqual([
      "image 2 (x/a.PNG): x/a.PNG already used by another image, written as x/a__2.PNG",
      "image 4 (y/b_gt.png): y/b_gt.png already used by another image, written as y/b_gt__4.png",
      "image 5 (y/B_GT.png): y/B_GT.png already used by another image, written as y/B_GT__5.png",
    ]);
    // Every output name of the job is distinct, case aside.
    const all = claims.flatMap((c) => [c!.names.image, c!.names.mask, c!.names.legend].map((n) => n.toLowerCase()));
    expect(new Set(all).size).toBe(all.length);
  });

  it("clashes on any of the three names, keeps legend.json free, and counts on past a taken __<id>", () => {
    const stats = new StatsCollector();
    const namer = new MaskNamer("gt", "_m", stats);
    // The mask of image 1 would be c_m.png, the name of image 2's copy.
    expect(namer.claim(image(1, "c.png"))?.names.mask).toBe("c_m.png");
    expect(namer.claim(image(2, "c_m.png"))?.names.image).toBe("c_m__2.png");
    expect(namer.claim(image(3, "LEGEND.json"))?.names.image).toBe("LEGEND__3.json");
    // e__6.png is a real image's name already: the renamed image 6 goes on to e__6_2.
    expect(namer.claim(image(4, "e.png"))?.names.image).toBe("e.png");
    expect(namer.claim(image(5, "e__6.png"))?.names.image).toBe("e__6.png");
    expect(namer.claim(image(6, "E.PNG"))?.names).toEqual({ image: "E__6_2.PNG", mask: "E__6_2_m.png", legend: "E__6_2_m.json" });
    // A clash on the mask alone renames too: image 8's mask would be image 7's copy.
    expect(namer.claim(image(7, "f_m.png"))?.names.image).toBe("f_m.png");
    expect(namer.claim(image(8, "f.jpg"))?.names).toEqual({ image: "f__8.jpg", mask: "f__8_m.png", legend: "f__8_m.json" });
    expect(stats.result().warnings.slice(2)).toEqual([
      "image 6 (E.PNG): E.PNG already used by another image, written as E__6_2.PNG",
      "image 8 (f.jpg): f_m.png already used by another image, written as f__8_m.png",
    ]);
  });

  it("skips an image whose path cannot be a file name, or whose names would not fit a blob name", () => {
    const stats = new StatsCollector();
    const namer = new MaskNamer("gt", "_gt", stats);
    expect(namer.claim(image(1, "../etc/passwd.png"))).toBeNull();
    expect(namer.claim(image(2, `${"a/".repeat(520)}x.png`))).toBeNull();
    expect(stats.result().warnings[0]).toMatch(/^image 1 \(\.\.\/etc\/passwd\.png\): skipped/);
    expect(stats.result().warnings[1]).toMatch(/longer than the 1024 characters/);
  });

  it("lets the renderer rebuild the same names from the path and the stored stem of a renamed image", () => {
    expect(maskImageNames("x/a.PNG", "_gt")).toEqual({ image: "x/a.PNG", mask: "x/a_gt.png", legend: "x/a_gt.json" });
    expect(maskImageNames("x/a.PNG", "_gt", "x/a__2")).toEqual({ image: "x/a__2.PNG", mask: "x/a__2_gt.png", legend: "x/a__2_gt.json" });
    expect(maskImageNames("../x.png", "_gt")).toBeUndefined();
  });

  it("leaves the YOLO/VOC entry namer as it was (case-sensitive, one name per image)", () => {
    const stats = new StatsCollector();
    const namer = new EntryNamer("labels/", ".txt", stats);
    const base: Omit<ExportImage, "imageId" | "blobPath"> = {
      width: 1,
      height: 1,
      filetype: "PNG",
      labelStatus: "admin_complete",
      testData: false,
      labeledAt: null,
      lastActivityAt: null,
      objects: [],
    };
    expect(namer.claim({ ...base, imageId: 1, blobPath: "s/car.png" })).toBe("labels/s/car.txt");
    expect(namer.claim({ ...base, imageId: 2, blobPath: "s/Car.png" })).toBe("labels/s/Car.txt");
    expect(namer.claim({ ...base, imageId: 4, blobPath: "s/car.jpg" })).toBe("labels/s/car__4.txt");
    expect(stats.result().warnings).toEqual(["image 4 (s/car.jpg): labels/s/car.txt already used by another image, written as labels/s/car__4.txt"]);
  });
});

describe("mask request rules", () => {
  const parse = (body: Record<string, unknown>) => labelImagesRequestSchema.safeParse({ gt_mode: "filled_polygon", output_folder: "gt", ...body });
  const message = (body: Record<string, unknown>) => {
    const result = parse(body);
    return result.success ? "" : result.error.issues.map((i) => i.message).join("; ");
  };

  it("requires a suffix of 1-64 letters, digits, '.', '_' or '-' (default _gt)", () => {
    expect(parse({}).data?.suffix).toBe("_gt");
    for (const ok of ["_gt", "-mask", ".m", "A1", "x".repeat(LIMITS.suffixLength)]) expect(suffixProblem(ok), ok).toBeNull();
    expect(message({ suffix: "" })).toMatch(/^suffix must not be empty/);
    expect(message({ suffix: "x".repeat(LIMITS.suffixLength + 1) })).toMatch(/^suffix is longer than 64/);
    for (const bad of ["a/b", "a b", "ä", "a\\b", "%2e"]) expect(message({ suffix: bad }), bad).toMatch(/^suffix may only hold/);
  });

  it("takes output_folder by the one relative-path rule, downloads/ reserved, outer slashes dropped", () => {
    expect(parse({ output_folder: "/gt/run 1/" }).data?.output_folder).toBe("gt/run 1");
    expect(message({ output_folder: "downloads" })).toMatch(/^output_folder may not be or start with downloads\//);
    expect(message({ output_folder: "downloads/x" })).toMatch(/downloads/);
    for (const bad of ["", "a//b", "../x", "a/./b", "a/%2E%2E", "a\\b", "a.", "a/\u0000"])
      expect(message({ output_folder: bad }), JSON.stringify(bad)).toMatch(/^output_folder /);
  });

  it("lists a folder's ancestors, the folders a claim marks", () => {
    expect(folderAncestors("a/b/c")).toEqual(["a", "a/b"]);
    expect(folderAncestors("a")).toEqual([]);
  });
});

describe("export filter bounds", () => {
  const at = (iso: string, dateOnly = false) => ({ at: new Date(iso).toISOString(), dateOnly });

  it("stores bounds in the contract's timestamp format, the format of the stored label times", () => {
    const filter = toExportFilter({
      label_status: "all",
      start: at("2020-10-26T07:44:56Z"),
      end: at("2020-10-26T00:00:00Z", true),
      last_activity_start: at("2020-10-01T00:00:00Z", true),
      last_activity_end: at("2020-10-26T07:44:56Z"),
    });
    expect(filter).toEqual({
      labelStatus: null,
      labeledFrom: "2020-10-26T07:44:56.000000Z",
      labeledBefore: "2020-10-27T00:00:00.000000Z",
      activityFrom: "2020-10-01T00:00:00.000000Z",
      activityBefore: "2020-10-26T07:44:57.000000Z",
    });
    expect(exportSelection(filter)).toContain("firstLabeledAt ge '2020-10-26T07:44:56.000000Z'");
  });

  it("compares a row stamped exactly at a bound, or a microsecond off, the right way as strings", () => {
    const { labeledFrom, labeledBefore } = toExportFilter({ label_status: "all", start: at("2020-10-26T07:44:56Z"), end: at("2020-10-26T07:44:59Z") });
    const stamp = (iso: string) => contractTimestamp(new Date(iso));
    const inRange = (row: string) => row >= labeledFrom! && row < labeledBefore!;
    expect(inRange(stamp("2020-10-26T07:44:56.000Z"))).toBe(true); // exactly at the start
    expect(inRange("2020-10-26T07:44:55.999999Z")).toBe(false);
    expect(inRange("2020-10-26T07:44:59.999999Z")).toBe(true); // the end's whole second
    expect(inRange(stamp("2020-10-26T07:45:00.000Z"))).toBe(false); // exactly at the exclusive end
    // Rows written before the move to microseconds (ISO, milliseconds) still compare correctly.
    expect(inRange("2020-10-26T07:44:56.000Z")).toBe(true);
    expect(inRange("2020-10-26T07:45:00.000Z")).toBe(false);
  });
});
