import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { buildClassIndex, GT_MODES, renderMask, type GtMode, type RenderMaskInput } from "../../shared/masks/render.js";
import { compareCodePoints } from "../../shared/export/formats/common.js";
import { drawLine, fillPolygon, type Point, type Raster } from "../../shared/masks/rasterize.js";

// Expected masks are drawn as ASCII art: "." = 0, "#" = 255, a digit = that value.
function asArt(values: ArrayLike<number>, width: number): string[] {
  const rows: string[] = [];
  for (let start = 0; start < values.length; start += width) {
    rows.push(
      Array.from({ length: width }, (_, i) => {
        const v = values[start + i]!;
        return v === 0 ? "." : v === 255 ? "#" : v < 10 ? String(v) : "?";
      }).join(""),
    );
  }
  return rows;
}

interface Decoded {
  width: number;
  height: number;
  bitDepth: number;
  values: number[];
}

/** Checks the PNG header (single-channel greyscale) and reads the pixel values back. */
async function decode(png: Buffer): Promise<Decoded> {
  expect(png.subarray(12, 16).toString("latin1")).toBe("IHDR");
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  const bitDepth = png[24]!;
  expect(png[25], "PNG colour type 0 (greyscale)").toBe(0);
  const meta = await sharp(png).metadata();
  expect(meta.channels).toBe(1);
  if (bitDepth === 16) {
    expect(meta.depth).toBe("ushort");
    // Without grey16 sharp would convert to 8-bit sRGB on the way out.
    const raw = await sharp(png).toColourspace("grey16").raw({ depth: "ushort" }).toBuffer();
    return { width, height, bitDepth, values: [...new Uint16Array(raw.buffer, raw.byteOffset, raw.length / 2)] };
  }
  expect(meta.depth).toBe("uchar");
  const raw = await sharp(png).extractChannel(0).raw().toBuffer();
  return { width, height, bitDepth, values: [...raw] };
}

async function renderArt(input: RenderMaskInput): Promise<string[]> {
  const result = await renderMask(input);
  expect(result.warnings).toEqual([]);
  const decoded = await decode(result.png);
  expect([decoded.width, decoded.height, decoded.bitDepth]).toEqual([input.width, input.height, result.bitDepth]);
  return asArt(decoded.values, input.width);
}

const poly = (label: string, polygon: Array<[number, number]>) => ({ label_original: label, polygon });
const box = (label: string, xmin: number, ymin: number, xmax: number, ymax: number) => ({
  label_original: label,
  bounding_box: { xmin, xmax, ymin, ymax },
});

const BINARY_MODES = ["filled_polygon", "polygon_edge", "center_dot"] as const;
type Expected = Record<(typeof BINARY_MODES)[number] | "filled_polygon_instances", string[]>;

interface Scene {
  name: string;
  width: number;
  height: number;
  objects: unknown[];
  expected: Expected;
}

const SCENES: Scene[] = [
  {
    // Half-integer vertices: the top edge runs through pixel centres and the apex is one (closed-shape rule).
    name: "triangle",
    width: 8,
    height: 6,
    objects: [
      poly("cat", [
        [0.5, 0.5],
        [6.5, 0.5],
        [3.5, 5.5],
      ]),
    ],
    expected: {
      filled_polygon: ["#######.", ".#####..", "..###...", "..###...", "...#....", "...#...."],
      // Vertices floored to (0,0), (6,0), (3,5).
      polygon_edge: ["#######.", ".#...#..", ".#...#..", "..#.#...", "..#.#...", "...#...."],
      // Centroid (3.5, 2.17).
      center_dot: ["........", "........", "...#....", "........", "........", "........"],
      filled_polygon_instances: ["1111111.", ".11111..", "..111...", "..111...", "...1....", "...1...."],
    },
  },
  {
    // Centres x = 1.5 and 4.5 lie on the box's sides: the box is closed, so columns 1..4 are in.
    name: "box",
    width: 8,
    height: 6,
    objects: [box("car", 1.5, 1, 4.5, 3)],
    expected: {
      filled_polygon: ["........", ".####...", ".####...", "........", "........", "........"],
      // Floored corners (1,1) and (4,3).
      polygon_edge: ["........", ".####...", ".#..#...", ".####...", "........", "........"],
      center_dot: ["........", "........", "...#....", "........", "........", "........"],
      filled_polygon_instances: ["........", ".1111...", ".1111...", "........", "........", "........"],
    },
  },
  {
    name: "overlapping objects (later on top)",
    width: 8,
    height: 6,
    objects: [
      box("car", 0, 0, 5, 4),
      box("person", 3, 2, 8, 6),
      poly("car", [
        [1, 1],
        [3, 1],
        [3, 3],
        [1, 3],
      ]),
    ],
    expected: {
      filled_polygon: ["#####...", "#####...", "########", "########", "...#####", "...#####"],
      polygon_edge: ["######..", "####.#..", "##.#####", "####.#..", "######..", "...#...."],
      // Box centres (2.5, 2) and (5.5, 4); square centroid (2, 2).
      center_dot: ["........", "........", "..#.....", "........", ".....#..", "........"],
      filled_polygon_instances: ["11111...", "13311...", "13322222", "11122222", "...22222", "...22222"],
    },
  },
  {
    name: "concave U",
    width: 10,
    height: 10,
    objects: [
      poly("horseshoe", [
        [1, 1],
        [3, 1],
        [3, 6],
        [6, 6],
        [6, 1],
        [8, 1],
        [8, 8],
        [1, 8],
      ]),
    ],
    expected: {
      filled_polygon: [
        "..........",
        ".##...##..",
        ".##...##..",
        ".##...##..",
        ".##...##..",
        ".##...##..",
        ".#######..",
        ".#######..",
        "..........",
        "..........",
      ],
      polygon_edge: [
        "..........",
        ".###..###.",
        ".#.#..#.#.",
        ".#.#..#.#.",
        ".#.#..#.#.",
        ".#.#..#.#.",
        ".#.####.#.",
        ".#......#.",
        ".########.",
        "..........",
      ],
      // Area-weighted centroid (4.5, 4.94): the 7x7 square minus the 3x5 notch.
      center_dot: ["..........", "..........", "..........", "..........", "....#.....", "..........", "..........", "..........", "..........", ".........."],
      filled_polygon_instances: [
        "..........",
        ".11...11..",
        ".11...11..",
        ".11...11..",
        ".11...11..",
        ".11...11..",
        ".1111111..",
        ".1111111..",
        "..........",
        "..........",
      ],
    },
  },
  {
    name: "shapes crossing the border",
    width: 8,
    height: 6,
    objects: [
      poly("a", [
        [-3, -3],
        [3, -3],
        [3, 3],
        [-3, 3],
      ]),
      poly("b", [
        [6, 3],
        [12, 3],
        [6, 9],
      ]),
    ],
    expected: {
      filled_polygon: ["###.....", "###.....", "###.....", "......##", "......##", "......##"],
      polygon_edge: ["...#....", "...#....", "...#....", "####..##", "......#.", "......#."],
      // Centroids (0, 0) and (8, 5): the second falls outside and is dropped.
      center_dot: ["#.......", "........", "........", "........", "........", "........"],
      filled_polygon_instances: ["111.....", "111.....", "111.....", "......22", "......22", "......22"],
    },
  },
  {
    name: "polygon touching all four borders",
    width: 8,
    height: 6,
    objects: [
      poly("all", [
        [0, 0],
        [8, 0],
        [8, 6],
        [0, 6],
      ]),
    ],
    expected: {
      filled_polygon: ["########", "########", "########", "########", "########", "########"],
      // The right and bottom sides floor to x = 8 and y = 6: outside, clipped.
      polygon_edge: ["########", "#.......", "#.......", "#.......", "#.......", "#......."],
      center_dot: ["........", "........", "........", "....#...", "........", "........"],
      filled_polygon_instances: ["11111111", "11111111", "11111111", "11111111", "11111111", "11111111"],
    },
  },
  {
    name: "no objects",
    width: 8,
    height: 6,
    objects: [],
    expected: {
      filled_polygon: Array(6).fill("........"),
      polygon_edge: Array(6).fill("........"),
      center_dot: Array(6).fill("........"),
      filled_polygon_instances: Array(6).fill("........"),
    },
  },
];

describe("renderMask golden masks", () => {
  for (const scene of SCENES) {
    for (const mode of [...BINARY_MODES, "filled_polygon_instances"] as const) {
      it(`${scene.name}: ${mode}`, async () => {
        const got = await renderArt({ width: scene.width, height: scene.height, objects: scene.objects, mode });
        expect(got).toEqual(scene.expected[mode]);
      });
    }
  }

  it("overlapping objects: filled_semantic uses class values, later on top", async () => {
    const scene = SCENES.find((s) => s.name.startsWith("overlapping"))!;
    const classIndex = buildClassIndex(["person", "car", "bike"]); // bike 1, car 2, person 3
    const got = await renderArt({ width: 8, height: 6, objects: scene.objects, mode: "filled_semantic", classIndex });
    expect(got).toEqual(["22222...", "22222...", "22233333", "22233333", "...33333", "...33333"]);
  });

  it("filled_semantic for every scene matches the instance mask with ids mapped to classes", async () => {
    for (const scene of SCENES) {
      const classIndex = buildClassIndex(scene.objects.map((o) => (o as { label_original: string }).label_original));
      const labels = scene.objects.map((o) => (o as { label_original: string }).label_original);
      const expected = scene.expected.filled_polygon_instances.map((row) =>
        [...row].map((c) => (c === "." ? "." : String(classIndex.get(labels[Number(c) - 1]!)))).join(""),
      );
      const input = { width: scene.width, height: scene.height, objects: scene.objects, classIndex };
      expect(await renderArt({ ...input, mode: "filled_semantic" }), scene.name).toEqual(expected);
    }
  });

  it("uses the polygon when an object has both a polygon and a box", async () => {
    const object = {
      ...box("x", 0, 0, 8, 6),
      polygon: [
        [1, 1],
        [3, 1],
        [3, 3],
        [1, 3],
      ],
    };
    const got = await renderArt({ width: 8, height: 6, objects: [object], mode: "filled_polygon" });
    expect(got).toEqual(["........", ".##.....", ".##.....", "........", "........", "........"]);
  });

  it("fills by the even-odd rule: a ring wound twice around the middle leaves a hole", async () => {
    // Outer square, a bridge in, an inner square wound the same way (winding number 2 inside it), the bridge out.
    const ring: Array<[number, number]> = [
      [1, 1],
      [9, 1],
      [9, 9],
      [1, 9],
      [1, 1],
      [3, 3],
      [7, 3],
      [7, 7],
      [3, 7],
      [3, 3],
    ];
    const got = await renderArt({ width: 10, height: 10, objects: [poly("ring", ring)], mode: "filled_polygon" });
    expect(got).toEqual([
      "..........",
      ".########.",
      ".########.",
      ".##....##.",
      ".##....##.",
      ".##....##.",
      ".##....##.",
      ".########.",
      ".########.",
      "..........",
    ]);
  });

  it("copes with vertices far outside the image", async () => {
    const far = 1e300;
    const objects = [
      poly("huge", [
        [-far, -far],
        [far, -far],
        [far, far],
        [-far, far],
      ]),
      poly("spike", [
        [2, 1],
        [3, 1e200],
        [4, 1],
      ]),
    ];
    expect(await renderArt({ width: 8, height: 6, objects, mode: "filled_polygon_instances" })).toEqual([
      "11111111",
      "11221111",
      "11221111",
      "11221111",
      "11221111",
      "11221111",
    ]);
  });

  it("center_dot: area-weighted centroid, vertex mean for zero area", async () => {
    // Triangle (0,0) (8,0) (0,8) with extra points on its base: centroid (2.67, 2.67); the vertex mean would be (2.33, 1.33).
    const weighted = poly("t", [
      [0, 0],
      [1, 0],
      [2, 0],
      [3, 0],
      [8, 0],
      [0, 8],
    ]);
    const flat = poly("line", [
      [1, 1],
      [7, 7],
      [4, 4],
    ]); // collinear: area 0, vertex mean (4, 4)
    const got = await renderArt({ width: 10, height: 10, objects: [weighted, flat], mode: "center_dot" });
    expect(got).toEqual([
      "..........",
      "..........",
      "..#.......",
      "..........",
      "....#.....",
      "..........",
      "..........",
      "..........",
      "..........",
      "..........",
    ]);
  });
});

describe("renderMask legends and bit depth", () => {
  const objects = [
    box("car", 0, 0, 5, 4),
    {
      label_original: "persona",
      label_translated: "person",
      polygon: [
        [3, 2],
        [8, 2],
        [8, 6],
      ],
    },
  ];

  it("binary modes: one foreground value", async () => {
    for (const [mode, label] of [
      ["filled_polygon", "object"],
      ["polygon_edge", "object_edge"],
      ["center_dot", "object_center"],
    ] as const) {
      const result = await renderMask({ width: 8, height: 6, objects, mode });
      expect(result.bitDepth).toBe(8);
      expect(result.legend).toEqual({ mode, bit_depth: 8, background: 0, values: [{ value: 255, label }] });
    }
  });

  it("instances: value -> translated label and stored index, skipping malformed entries", async () => {
    const result = await renderMask({ width: 8, height: 6, objects: [objects[0], { nonsense: true }, objects[1]], mode: "filled_polygon_instances" });
    expect(result.legend).toEqual({
      mode: "filled_polygon_instances",
      bit_depth: 8,
      background: 0,
      values: [
        { value: 1, label: "car", object_index: 0 },
        { value: 2, label: "person", object_index: 2 },
      ],
    });
    expect(JSON.parse(JSON.stringify(result.legend))).toEqual(result.legend);
    expect(result.warnings).toHaveLength(1);
  });

  it("semantic: lists every class of the index, present or not", async () => {
    const classIndex = buildClassIndex(["person", "car", "bike"]);
    const result = await renderMask({ width: 8, height: 6, objects: [], mode: "filled_semantic", classIndex });
    expect(result.legend).toEqual({
      mode: "filled_semantic",
      bit_depth: 8,
      background: 0,
      values: [
        { value: 1, label: "bike" },
        { value: 2, label: "car" },
        { value: 3, label: "person" },
      ],
    });
    expect((await decode(result.png)).values.every((v) => v === 0)).toBe(true);
  });

  it("semantic: 16-bit when a class value exceeds 255", async () => {
    const classIndex = new Map([
      ["car", 300],
      ["person", 2],
    ]);
    const result = await renderMask({ width: 8, height: 6, objects, mode: "filled_semantic", classIndex });
    expect(result.bitDepth).toBe(16);
    expect(result.legend.bit_depth).toBe(16);
    const { values, bitDepth } = await decode(result.png);
    expect(bitDepth).toBe(16);
    expect(values[0]).toBe(300);
    expect(values[2 * 8 + 7]).toBe(2);
    expect(new Set(values)).toEqual(new Set([0, 2, 300]));
  });

  it("instances: 16-bit with 300 objects, later on top", async () => {
    // 299 one-pixel boxes in reading order, then a 2x1 box over the first two pixels.
    const many: unknown[] = Array.from({ length: 299 }, (_, k) => box(`o${k}`, k % 20, Math.floor(k / 20), (k % 20) + 1, Math.floor(k / 20) + 1));
    many.push(box("top", 0, 0, 2, 1));
    const result = await renderMask({ width: 20, height: 16, objects: many, mode: "filled_polygon_instances" });
    expect(result.warnings).toEqual([]);
    expect(result.bitDepth).toBe(16);
    const decoded = await decode(result.png);
    expect(decoded.bitDepth).toBe(16);
    const expected = Array.from({ length: 20 * 16 }, (_, i) => (i < 2 ? 300 : i < 299 ? i + 1 : 0));
    expect(decoded.values).toEqual(expected);
    expect(result.legend.values).toHaveLength(300);
    expect(result.legend.values[299]).toEqual({ value: 300, label: "top", object_index: 299 });
  });

  it("instances: 8-bit up to 255 objects, 16-bit from 256", async () => {
    const unit = (k: number) => box("o", k % 16, Math.floor(k / 16), (k % 16) + 1, Math.floor(k / 16) + 1);
    const at255 = await renderMask({ width: 16, height: 17, objects: Array.from({ length: 255 }, (_, k) => unit(k)), mode: "filled_polygon_instances" });
    expect(at255.bitDepth).toBe(8);
    expect((await decode(at255.png)).values.slice(250, 256)).toEqual([251, 252, 253, 254, 255, 0]);
    const at256 = await renderMask({ width: 16, height: 17, objects: Array.from({ length: 256 }, (_, k) => unit(k)), mode: "filled_polygon_instances" });
    expect(at256.bitDepth).toBe(16);
    expect((await decode(at256.png)).values.slice(250, 257)).toEqual([251, 252, 253, 254, 255, 256, 0]);
  });
});

describe("renderMask robustness", () => {
  const malformed: unknown[] = [
    null,
    "a string",
    {
      label_original: "two points",
      polygon: [
        [0, 0],
        [1, 1],
      ],
    },
    { label_original: "inverted box", bounding_box: { xmin: 3, xmax: 1, ymin: 0, ymax: 1 } },
    { label_original: "flat box", bounding_box: { xmin: 1, xmax: 3, ymin: 2, ymax: 2 } },
    {
      label_original: "nan",
      polygon: [
        [0, 0],
        [Number.NaN, 1],
        [2, 2],
      ],
    },
    { label_original: "infinite", bounding_box: { xmin: 0, xmax: Number.POSITIVE_INFINITY, ymin: 0, ymax: 1 } },
    { label_original: "no shape" },
  ];

  it("skips each malformed object with a warning, in every mode", async () => {
    const objects = [...malformed, box("ok", 0, 0, 2, 2)];
    for (const mode of GT_MODES) {
      const classIndex = buildClassIndex(["ok"]);
      const result = await renderMask({ width: 4, height: 3, objects, mode, classIndex });
      expect(result.warnings, mode).toHaveLength(malformed.length);
      result.warnings.forEach((w, i) => expect(w).toMatch(new RegExp(`^object ${i}: .*skipped$`)));
      const { values } = await decode(result.png);
      const expected: Record<GtMode, string[]> = {
        filled_polygon: ["##..", "##..", "...."],
        polygon_edge: ["###.", "#.#.", "###."],
        center_dot: ["....", ".#..", "...."],
        filled_polygon_instances: ["11..", "11..", "...."],
        filled_semantic: ["11..", "11..", "...."],
      };
      expect(asArt(values, 4), mode).toEqual(expected[mode]);
    }
    const instances = await renderMask({ width: 4, height: 3, objects, mode: "filled_polygon_instances" });
    expect(instances.legend.values).toEqual([{ value: 1, label: "ok", object_index: malformed.length }]);
  });

  it("semantic: an object whose label has no class is skipped with a warning", async () => {
    const result = await renderMask({
      width: 4,
      height: 3,
      objects: [box("dog", 0, 0, 4, 3), box("cat", 0, 0, 1, 1)],
      mode: "filled_semantic",
      classIndex: buildClassIndex(["cat"]),
    });
    expect(result.warnings).toEqual(['object 0: label "dog" has no class value; skipped']);
    expect(asArt((await decode(result.png)).values, 4)).toEqual(["1...", "....", "...."]);
  });

  it("throws for caller errors only", async () => {
    await expect(renderMask({ width: 4, height: 3, objects: [], mode: "filled_semantic" })).rejects.toThrow(/classIndex/);
    await expect(renderMask({ width: 4, height: 3, objects: [], mode: "filled_semantic", classIndex: new Map([["a", 0]]) })).rejects.toThrow(/classIndex/);
    await expect(renderMask({ width: 0, height: 3, objects: [], mode: "filled_polygon" })).rejects.toThrow(/width/);
    await expect(renderMask({ width: 4, height: 2.5, objects: [], mode: "filled_polygon" })).rejects.toThrow(/height/);
    await expect(renderMask({ width: 4, height: 3, objects: [], mode: "bogus" as GtMode })).rejects.toThrow(/mode/);
  });

  it("is deterministic: the same input gives identical bytes", async () => {
    const random = mulberry32(7);
    const objects = Array.from({ length: 40 }, (_, k) =>
      poly(
        `c${k % 5}`,
        Array.from({ length: 9 }, () => [random() * 140 - 10, random() * 100 - 10] as [number, number]),
      ),
    );
    const classIndex = buildClassIndex(objects.map((o) => o.label_original));
    for (const mode of GT_MODES) {
      const a = await renderMask({ width: 120, height: 80, objects, mode, classIndex });
      const b = await renderMask({ width: 120, height: 80, objects: structuredClone(objects), mode, classIndex });
      expect(a.png.equals(b.png), mode).toBe(true);
      expect(a.legend).toEqual(b.legend);
    }
  });

  it("gives the same bytes when renders overlap (recycled buffers are never shared)", async () => {
    const random = mulberry32(11);
    const scenes = Array.from({ length: 12 }, (_, s) =>
      Array.from({ length: 1 + (s % 4) }, () => box("b", random() * 60, random() * 40, 60 + random() * 40, 40 + random() * 30)),
    );
    const inputs = scenes.flatMap((objects) => GT_MODES.map((mode) => ({ width: 100, height: 70, objects, mode, classIndex: buildClassIndex(["b"]) })));
    const sequential: Buffer[] = [];
    for (const input of inputs) sequential.push((await renderMask(input)).png);
    const concurrent = await Promise.all(inputs.map((input) => renderMask(input)));
    concurrent.forEach((result, i) => expect(result.png.equals(sequential[i]!), `input ${i}`).toBe(true));
  });
});

describe("buildClassIndex", () => {
  it("numbers the sorted unique labels 1..n by code point", () => {
    // U+FFFF sorts before U+1F600 by code point, though after it by UTF-16 unit.
    const index = buildClassIndex(["zebra", "😀", "\uFFFF", "apple", "zebra", "Zebra"]);
    expect([...index]).toEqual([
      ["Zebra", 1],
      ["apple", 2],
      ["zebra", 3],
      ["\uFFFF", 4],
      ["😀", 5],
    ]);
    expect(buildClassIndex(["b", "a"])).toEqual(buildClassIndex(["a", "b", "a"]));
    expect(buildClassIndex([]).size).toBe(0);
  });

  it("compareCodePoints orders prefixes first", () => {
    expect(["ab", "a", "", "b"].sort(compareCodePoints)).toEqual(["", "a", "ab", "b"]);
  });
});

describe("rasteriser against brute force", () => {
  // Reference: a pixel is set iff its centre is on the boundary or inside by even-odd; coordinates are multiples
  // of 0.5, so doubling them makes every test exact integer arithmetic.
  function reference(width: number, height: number, points: Point[]): Uint8Array {
    const out = new Uint8Array(width * height);
    const p = points.map(([x, y]) => [2 * x, 2 * y] as const);
    for (let j = 0; j < height; j++) {
      for (let i = 0; i < width; i++) {
        const px = 2 * i + 1;
        const py = 2 * j + 1;
        let inside = false;
        let onBoundary = false;
        for (let k = 0; k < p.length; k++) {
          const [ax, ay] = p[k]!;
          const [bx, by] = p[(k + 1) % p.length]!;
          const cross = (bx - ax) * (py - ay) - (by - ay) * (px - ax);
          if (cross === 0 && px >= Math.min(ax, bx) && px <= Math.max(ax, bx) && py >= Math.min(ay, by) && py <= Math.max(ay, by)) {
            onBoundary = true;
          }
          if (ay > py !== by > py) {
            // Does the edge cross the ray going right from the centre? x_cross > px, by cross-multiplication.
            const lhs = (px - ax) * (by - ay);
            const rhs = (bx - ax) * (py - ay);
            if (by > ay ? rhs > lhs : rhs < lhs) inside = !inside;
          }
        }
        if (inside || onBoundary) out[j * width + i] = 255;
      }
    }
    return out;
  }

  it("fillPolygon matches per-pixel tests on random half-integer polygons", () => {
    const random = mulberry32(42);
    const width = 23;
    const height = 17;
    for (let trial = 0; trial < 400; trial++) {
      const n = 3 + Math.floor(random() * 9);
      // Half-integer grid from -4 to 27: hits pixel centres, shared rows, horizontal edges and the borders.
      const points: Point[] = Array.from({ length: n }, () => [Math.floor(random() * 62) / 2 - 4, Math.floor(random() * 50) / 2 - 4]);
      const raster: Raster = { width, height, data: new Uint8Array(width * height) };
      fillPolygon(raster, points, 255);
      const expected = reference(width, height, points);
      if (!Buffer.from(raster.data).equals(Buffer.from(expected))) {
        expect({ points, got: asArt(raster.data, width) }).toEqual({ points, got: asArt(expected, width) });
      }
    }
  });

  it("drawLine clips exactly the pixels of the whole line, in either direction", () => {
    const naive = (x0: number, y0: number, x1: number, y1: number): Set<string> => {
      const pixels = new Set<string>();
      const steps = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0), 1);
      for (let s = 0; s <= steps; s++) {
        // Nearest pixel on the ideal line at each major step, ties up (t = s / steps exactly on the major axis).
        const fx = x0 + ((x1 - x0) * s) / steps;
        const fy = y0 + ((y1 - y0) * s) / steps;
        pixels.add(`${Math.floor(fx + 0.5)},${Math.floor(fy + 0.5)}`);
      }
      return pixels;
    };
    const random = mulberry32(3);
    const width = 12;
    const height = 9;
    for (let trial = 0; trial < 500; trial++) {
      const [x0, y0, x1, y1] = [0, 0, 0, 0].map(() => Math.floor(random() * 40) - 14) as [number, number, number, number];
      const expected = [...naive(x0, y0, x1, y1)].filter((key) => {
        const [x, y] = key.split(",").map(Number) as [number, number];
        return x >= 0 && x < width && y >= 0 && y < height;
      });
      for (const [a, b, c, d] of [
        [x0, y0, x1, y1],
        [x1, y1, x0, y0],
      ] as const) {
        const raster: Raster = { width, height, data: new Uint8Array(width * height) };
        drawLine(raster, a, b, c, d, 1);
        const got = [...raster.data].flatMap((v, i) => (v ? [`${i % width},${Math.floor(i / width)}`] : []));
        expect(new Set(got), `${a},${b} -> ${c},${d}`).toEqual(new Set(expected));
      }
    }
  });

  it("drawLine: a clipped sloped line, and huge end points give the same pixels as small ones", () => {
    const draw = (x0: number, y0: number, x1: number, y1: number): string[] => {
      const raster: Raster = { width: 8, height: 6, data: new Uint8Array(48) };
      drawLine(raster, x0, y0, x1, y1, 1);
      return asArt(raster.data, 8);
    };
    // y = 0.3 * (x + 5): 1.5 at x = 0 rounds up to 2.
    expect(draw(-5, 0, 5, 3)).toEqual(["........", "........", "1111....", "....11..", "........", "........"]);
    expect(draw(5, 3, -5, 0)).toEqual(draw(-5, 0, 5, 3));
    expect(draw(-(2 ** 60), -(2 ** 59), 2 ** 60, 2 ** 59)).toEqual(draw(-16, -8, 16, 8));
    expect(draw(2 ** 60, 2 ** 59, -(2 ** 60), -(2 ** 59))).toEqual(draw(-16, -8, 16, 8));
    expect(draw(-1e15, -1e15, 1e15, 1e15)).toEqual(["1.......", ".1......", "..1.....", "...1....", "....1...", ".....1.."]);
    expect(draw(3, -1e300, 3, 1e300)).toEqual(Array(6).fill("...1...."));
  });
});

/** Small seeded PRNG for reproducible random shapes. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
