/**
 * Mask rendering throughput: our renderMask (rasterise + PNG encode) against Pillow's ImageDraw + PNG save, on the
 * same seeded random polygons. Run alone with `npx tsx bench/masks.ts`.
 *
 * Both sides run on one core: sharp's libvips thread pool is set to 1 while we measure, Pillow is single-threaded.
 * Pace is reported per CPU-second (process-wide CPU time, so every thread counts; steady on a busy machine) and per
 * wall-clock second, each the best of REPEATS passes. Pillow is timed inside Python (no process start-up), with its default PNG settings and with
 * compress_level=1 (the level we use) to show how much of the gap is compression effort.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { buildClassIndex, GT_MODES, renderMask, type GtMode } from "../shared/masks/render.js";
import { seededRandom } from "./rng.js";

const WIDTH = 2048;
const HEIGHT = 1536;
const MASKS = 30;
const POLYGONS_PER_MASK = 20;
const VERTICES = 12;
/** Each measurement is the best of this many passes over the masks, on both sides. */
const REPEATS = 3;
const CLASSES = ["bicycle", "bus", "car", "person", "truck"];

interface BenchPolygon {
  label: string;
  points: Array<[number, number]>;
}

export async function runMaskBench(log: (line: string) => void): Promise<void> {
  const masks = makeMasks(1234);
  log(`masks: ${MASKS} per mode, ${WIDTH}x${HEIGHT}, ${POLYGONS_PER_MASK} polygons of ${VERTICES} vertices, one core`);

  const ours = await benchOurs(masks);
  const pillow = benchPillow(masks, log);

  // CPU time is the per-core pace and shrugs off other load on the machine; wall clock is shown beside it.
  for (const clock of ["cpu", "wall"] as const) {
    const unit = clock === "cpu" ? "masks/CPU-s" : "masks/s (wall)";
    const header = ["mode", `ours ${unit}`, "Pillow", "ratio", "Pillow lvl1", "ratio"];
    const rows = GT_MODES.map((mode) => {
      const mine = ours[mode][clock];
      const fmt = (v: number | undefined) => (v === undefined ? "-" : v.toFixed(1));
      const ratio = (v: number | undefined) => (v === undefined ? "-" : `${(mine / v).toFixed(2)}x`);
      const p = pillow?.[mode];
      return [mode, fmt(mine), fmt(p?.default[clock]), ratio(p?.default[clock]), fmt(p?.level1[clock]), ratio(p?.level1[clock])];
    });
    log("");
    for (const line of table([header, ...rows])) log(line);
  }
}

/** Masks per second of CPU time and of wall-clock time. */
interface Pace {
  cpu: number;
  wall: number;
}

async function benchOurs(masks: BenchPolygon[][]): Promise<Record<GtMode, Pace>> {
  const classIndex = buildClassIndex(CLASSES);
  const inputs = masks.map((polygons) => polygons.map((p) => ({ label_original: p.label, polygon: p.points })));
  const previous = sharp.concurrency();
  sharp.concurrency(1);
  try {
    const render = (objects: unknown[], mode: GtMode) => renderMask({ width: WIDTH, height: HEIGHT, objects, mode, classIndex });
    // Warm up the JIT and libvips on every mode first, so the first mode timed is not penalised.
    for (const mode of GT_MODES) for (const objects of inputs.slice(0, 5)) await render(objects, mode);
    const result = {} as Record<GtMode, Pace>;
    for (const mode of GT_MODES) {
      const runs: Pace[] = [];
      for (let r = 0; r < REPEATS; r++) {
        const wallStart = process.hrtime.bigint();
        const cpuStart = process.cpuUsage(); // all threads of the process, libvips' included
        for (const objects of inputs) await render(objects, mode);
        const cpu = process.cpuUsage(cpuStart);
        const wall = Number(process.hrtime.bigint() - wallStart) / 1e9;
        runs.push({ cpu: inputs.length / ((cpu.user + cpu.system) / 1e6), wall: inputs.length / wall });
      }
      result[mode] = best(runs);
    }
    return result;
  } finally {
    sharp.concurrency(previous);
  }
}

/** The fastest of the runs on each clock: the least disturbed by other work on the machine. */
function best(runs: Pace[]): Pace {
  return { cpu: Math.max(...runs.map((r) => r.cpu)), wall: Math.max(...runs.map((r) => r.wall)) };
}

type PillowResult = Record<GtMode, { default: Pace; level1: Pace }>;

function benchPillow(masks: BenchPolygon[][], log: (line: string) => void): PillowResult | undefined {
  const python = ["python3", "/usr/bin/python3"].find((exe) => spawnSync(exe, ["-c", "import PIL"], { stdio: "ignore" }).status === 0);
  if (!python) {
    log("Pillow not installed (apt-get install python3-pil): skipped");
    return undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), "mask-bench-"));
  try {
    const input = join(dir, "masks.json");
    const classIndex = Object.fromEntries(buildClassIndex(CLASSES));
    writeFileSync(input, JSON.stringify({ width: WIDTH, height: HEIGHT, modes: GT_MODES, repeats: REPEATS, classIndex, masks }));
    const run = spawnSync(python, ["-c", PILLOW_SCRIPT, input], { encoding: "utf8", maxBuffer: 1 << 20 });
    if (run.status !== 0) {
      log(`Pillow run failed (${python}): ${run.stderr.trim().split("\n").pop() ?? run.status}`);
      return undefined;
    }
    return JSON.parse(run.stdout) as PillowResult;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// The same drawing in Pillow: polygon fill / outline / point, instances and classes as fill values.
const PILLOW_SCRIPT = String.raw`
import io, json, sys, time
from PIL import Image, ImageDraw

spec = json.load(open(sys.argv[1]))
W, H, masks, classes = spec["width"], spec["height"], spec["masks"], spec["classIndex"]

def centroid(pts):
    ox, oy = pts[0]
    a2 = sx = sy = 0.0
    for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1]):
        x0 -= ox; y0 -= oy; x1 -= ox; y1 -= oy
        c = x0 * y1 - x1 * y0
        a2 += c; sx += (x0 + x1) * c; sy += (y0 + y1) * c
    if a2 == 0:
        return (sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts))
    return (ox + sx / (3 * a2), oy + sy / (3 * a2))

def render(mode, polys, level):
    img = Image.new("L", (W, H), 0)
    d = ImageDraw.Draw(img)
    for i, p in enumerate(polys):
        pts = [tuple(v) for v in p["points"]]
        if mode == "filled_polygon":
            d.polygon(pts, fill=255)
        elif mode == "polygon_edge":
            d.polygon(pts, outline=255)
        elif mode == "center_dot":
            d.point(centroid(pts), fill=255)
        elif mode == "filled_polygon_instances":
            d.polygon(pts, fill=i + 1)
        else:
            d.polygon(pts, fill=classes[p["label"]])
    buf = io.BytesIO()
    if level is None:
        img.save(buf, "PNG")
    else:
        img.save(buf, "PNG", compress_level=level)
    return buf

out = {}
for mode in spec["modes"]:
    out[mode] = {}
    for key, level in (("default", None), ("level1", 1)):
        for polys in masks[:3]:
            render(mode, polys, level)
        best = {"cpu": 0.0, "wall": 0.0}
        for _ in range(spec["repeats"]):
            wall, cpu = time.perf_counter(), time.process_time()
            for polys in masks:
                render(mode, polys, level)
            best["cpu"] = max(best["cpu"], len(masks) / (time.process_time() - cpu))
            best["wall"] = max(best["wall"], len(masks) / (time.perf_counter() - wall))
        out[mode][key] = best
print(json.dumps(out))
`;

/** Star-shaped random polygons (some cross the border), seeded so every run draws the same masks. */
function makeMasks(seed: number): BenchPolygon[][] {
  const random = seededRandom(seed);
  const round = (v: number) => Math.round(v * 100) / 100;
  return Array.from({ length: MASKS }, () =>
    Array.from({ length: POLYGONS_PER_MASK }, () => {
      const cx = random() * WIDTH;
      const cy = random() * HEIGHT;
      const radius = 40 + random() * 280;
      const points = Array.from({ length: VERTICES }, (_, k): [number, number] => {
        const angle = ((k + random() * 0.8) / VERTICES) * 2 * Math.PI;
        const r = radius * (0.4 + 0.6 * random());
        return [round(cx + r * Math.cos(angle)), round(cy + r * Math.sin(angle))];
      });
      return { label: CLASSES[Math.floor(random() * CLASSES.length)]!, points };
    }),
  );
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  "));
}

if (process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))) {
  await runMaskBench((line) => console.log(line));
}
