/**
 * Exact, dependency-free rasterisation of label shapes into a single-channel buffer of `width * height` values
 * (row-major, row 0 at the top). No anti-aliasing: every write stores one integer value.
 *
 * Pixel model: pixel (i, j) covers [i, i+1) x [j, j+1) and is represented by its centre (i + 0.5, j + 0.5).
 * - Fills set a pixel iff its centre lies in the closed shape: inside by the even-odd rule, or exactly on the
 *   boundary. A box [xmin, xmax] x [ymin, ymax] is closed the same way, so a box and the same rectangle as a
 *   polygon give the same pixels. For integer or half-integer coordinates every decision is exact (one rounding,
 *   at a division whose true result is either exactly representable or far from a pixel centre).
 * - Outlines and dots work on integer pixels: vertices are floored, and edges are Bresenham lines (in each column,
 *   or row, of the major axis the pixel nearest the ideal line; ties go to the larger coordinate). The result does
 *   not depend on the direction an edge is walked.
 * Everything is clipped to the image; coordinates may lie anywhere (even far outside) without costing more than
 * the visible part.
 */

/** Pixel values, row-major: 8-bit masks in a Uint8Array, 16-bit ones (more than 255 values) in a Uint16Array. */
export type MaskData = Uint8Array | Uint16Array;

/** A mask being drawn: its size and its pixels. */
export interface Raster {
  readonly width: number;
  readonly height: number;
  readonly data: MaskData;
}

/** A polygon vertex `[x, y]` in pixel coordinates (not rounded). */
export type Point = readonly [number, number];

export interface Box {
  readonly xmin: number;
  readonly xmax: number;
  readonly ymin: number;
  readonly ymax: number;
}

// Scratch space reused across calls: rendering is synchronous, so sharing it is safe and spares the allocator.
let scratchEdges = new Float64Array(0);
let scratchOrder = new Int32Array(0);
let scratchActive = new Int32Array(0);
let scratchCross = new Float64Array(0);

function ensureScratch(edgeCount: number): void {
  if (scratchOrder.length >= edgeCount) return;
  const size = Math.max(edgeCount, 2 * scratchOrder.length, 64);
  scratchEdges = new Float64Array(size * EDGE_STRIDE);
  scratchOrder = new Int32Array(size);
  scratchActive = new Int32Array(size);
  scratchCross = new Float64Array(size);
}

// Edge record: [ylo, yhi, x at ylo, x at yhi].
const EDGE_STRIDE = 4;

/** Fills a polygon (closed ring; the last point joins the first) with `value`. */
export function fillPolygon(raster: Raster, points: readonly Point[], value: number): void {
  const n = points.length;
  if (n === 0) return;
  const { width, height, data } = raster;
  ensureScratch(n);
  const edges = scratchEdges;
  const order = scratchOrder;

  // Collect edges oriented top to bottom; horizontal ones only matter on a row exactly at their y.
  let edgeCount = 0;
  let ymin = Infinity;
  let ymax = -Infinity;
  for (let k = 0; k < n; k++) {
    const p = points[k]!;
    const q = points[k + 1 === n ? 0 : k + 1]!;
    const [x0, y0] = p;
    const [x1, y1] = q;
    const e = edgeCount * EDGE_STRIDE;
    if (y0 <= y1) {
      edges[e] = y0;
      edges[e + 1] = y1;
      edges[e + 2] = x0;
      edges[e + 3] = x1;
    } else {
      edges[e] = y1;
      edges[e + 1] = y0;
      edges[e + 2] = x1;
      edges[e + 3] = x0;
    }
    order[edgeCount] = edgeCount;
    edgeCount++;
    if (y0 < ymin) ymin = y0;
    if (y0 > ymax) ymax = y0;
  }

  // Rows whose centre y = j + 0.5 lies in [ymin, ymax].
  const firstRow = Math.max(0, Math.ceil(ymin - 0.5));
  const lastRow = Math.min(height - 1, Math.floor(ymax - 0.5));
  if (firstRow > lastRow) return;

  const byTop = order.subarray(0, edgeCount);
  byTop.sort((a, b) => edges[a * EDGE_STRIDE]! - edges[b * EDGE_STRIDE]!);

  const active = scratchActive;
  const cross = scratchCross;
  let activeCount = 0;
  let next = 0;

  for (let row = firstRow; row <= lastRow; row++) {
    const yc = row + 0.5;
    const base = row * width;

    while (next < edgeCount && edges[byTop[next]! * EDGE_STRIDE]! <= yc) active[activeCount++] = byTop[next++]!;

    // Drop edges that ended above this row; compute crossings of the rest.
    let crossCount = 0;
    let kept = 0;
    for (let a = 0; a < activeCount; a++) {
      const id = active[a]!;
      const e = id * EDGE_STRIDE;
      const ylo = edges[e]!;
      const yhi = edges[e + 1]!;
      if (yhi < yc) continue;
      active[kept++] = id;
      const xlo = edges[e + 2]!;
      const xhi = edges[e + 3]!;
      if (ylo === yhi) {
        // Horizontal edge exactly on the row: every centre along it is on the boundary.
        fillSpan(data, base, width, Math.min(xlo, xhi), Math.max(xlo, xhi), value);
        continue;
      }
      if (yc === yhi) {
        // The edge ends on this row (bottom vertex): its end point is on the boundary but is not a crossing.
        fillSpan(data, base, width, xhi, xhi, value);
        continue;
      }
      // Half-open in y ([ylo, yhi)), so a vertex on the row is crossed once, or twice at a top peak.
      // One rounding (the division) keeps the comparison with pixel centres exact for dyadic coordinates.
      let xc = yc === ylo ? xlo : (xlo * (yhi - yc) + xhi * (yc - ylo)) / (yhi - ylo);
      if (!Number.isFinite(xc)) {
        // The products overflowed (vertices beyond ~1e154): interpolate without them; exactness is moot there.
        const t = (yc - ylo) / (yhi - ylo);
        xc = xlo * (1 - t) + xhi * t;
      }
      cross[crossCount++] = xc;
    }
    activeCount = kept;

    if (crossCount > 1) {
      sortSmall(cross, crossCount);
      // Even-odd: interior between crossings 0-1, 2-3, ...; the crossings themselves are boundary (closed spans).
      for (let c = 0; c + 1 < crossCount; c += 2) fillSpan(data, base, width, cross[c]!, cross[c + 1]!, value);
    }
  }
}

/** Sets the pixels of row `base` whose centre x lies in the closed interval [a, b]. */
function fillSpan(data: MaskData, base: number, width: number, a: number, b: number, value: number): void {
  // Clamping first keeps `- 0.5` exact and the indices small for far-away coordinates.
  const lo = Math.ceil((a < -1 ? -1 : a) - 0.5);
  const hi = Math.floor((b > width + 1 ? width + 1 : b) - 0.5);
  const start = lo < 0 ? 0 : lo;
  const end = hi >= width ? width - 1 : hi;
  if (start <= end) data.fill(value, base + start, base + end + 1);
}

/** Insertion sort for the handful of crossings a row usually has; the typed-array sort beyond that. */
function sortSmall(values: Float64Array, count: number): void {
  if (count > 24) {
    values.subarray(0, count).sort();
    return;
  }
  for (let i = 1; i < count; i++) {
    const v = values[i]!;
    let j = i - 1;
    while (j >= 0 && values[j]! > v) {
      values[j + 1] = values[j]!;
      j--;
    }
    values[j + 1] = v;
  }
}

/** Fills the closed box [xmin, xmax] x [ymin, ymax] (by pixel centres) with `value`. */
export function fillRect(raster: Raster, box: Box, value: number): void {
  const { width, height, data } = raster;
  const firstRow = Math.max(0, Math.ceil(box.ymin - 0.5));
  const lastRow = Math.min(height - 1, Math.floor(box.ymax - 0.5));
  for (let row = firstRow; row <= lastRow; row++) fillSpan(data, row * width, width, box.xmin, box.xmax, value);
}

/** Draws the 1-px outline of a polygon: Bresenham lines between floored vertices, closing the ring. */
export function strokePolygon(raster: Raster, points: readonly Point[], value: number): void {
  const n = points.length;
  for (let k = 0; k < n; k++) {
    const p = points[k]!;
    const q = points[k + 1 === n ? 0 : k + 1]!;
    drawLine(raster, Math.floor(p[0]), Math.floor(p[1]), Math.floor(q[0]), Math.floor(q[1]), value);
  }
}

/** Draws the 1-px outline of a box: the rectangle between its floored corners. */
export function strokeRect(raster: Raster, box: Box, value: number): void {
  const x0 = Math.floor(box.xmin);
  const x1 = Math.floor(box.xmax);
  const y0 = Math.floor(box.ymin);
  const y1 = Math.floor(box.ymax);
  drawLine(raster, x0, y0, x1, y0, value);
  drawLine(raster, x1, y0, x1, y1, value);
  drawLine(raster, x1, y1, x0, y1, value);
  drawLine(raster, x0, y1, x0, y0, value);
}

/**
 * Bresenham line between integer pixels (both ends included), clipped. Only the in-image stretch of the major axis
 * is walked, starting from the minor coordinate computed exactly for the first visible step and carried on with an
 * exact integer remainder, so a line with far-away ends costs at most max(width, height) steps and sets exactly the
 * pixels the unclipped line would.
 */
export function drawLine(raster: Raster, x0: number, y0: number, x1: number, y1: number, value: number): void {
  if (Math.max(Math.abs(x0), Math.abs(x1), Math.abs(y0), Math.abs(y1)) > SMALL) {
    drawLineBig(raster, BigInt(x0), BigInt(y0), BigInt(x1), BigInt(y1), value);
    return;
  }
  const { width, height, data } = raster;
  const xMajor = Math.abs(x1 - x0) >= Math.abs(y1 - y0);
  // Walk along the major axis (m) and derive the minor one (k): swap roles for a y-major line.
  let m0 = xMajor ? x0 : y0;
  let k0 = xMajor ? y0 : x0;
  let m1 = xMajor ? x1 : y1;
  let k1 = xMajor ? y1 : x1;
  if (m1 < m0) [m0, k0, m1, k1] = [m1, k1, m0, k0];
  const dm = m1 - m0;
  const dk = k1 - k0;
  if (dm === 0) {
    setPixel(raster, x0, y0, value);
    return;
  }
  const minorSize = xMajor ? height : width;
  // Pixel step along each axis in the buffer.
  const majorStride = xMajor ? 1 : width;
  const minorStride = xMajor ? width : 1;
  const from = Math.max(m0, 0);
  const to = Math.min(m1, (xMajor ? width : height) - 1);
  if (from > to) return;
  // k = k0 + floor(num / den) with num = 2 (m - m0) dk + dm, den = 2 dm; carry the remainder step by step.
  const den = 2 * dm;
  const stepNum = 2 * dk;
  let q = roundedRatio(from - m0, dk, dm);
  let rem = 2 * (from - m0) * dk + dm - q * den;
  for (let m = from; m <= to; m++) {
    const k = k0 + q;
    if (k >= 0 && k < minorSize) data[m * majorStride + k * minorStride] = value;
    // |stepNum| <= den, so one correction at most keeps rem in [0, den).
    rem += stepNum;
    if (rem >= den) {
      rem -= den;
      q++;
    } else if (rem < 0) {
      rem += den;
      q--;
    }
  }
}

// Below this magnitude 2 * t * num + den stays a safe integer (image sides are far smaller too).
const SMALL = 2 ** 24;

/** floor(t * num / den + 1/2) for safe integers, den > 0: the nearest integer, ties up. */
function roundedRatio(t: number, num: number, den: number): number {
  const n = 2 * t * num + den;
  const d = 2 * den;
  // The float quotient can be off by one next to an integer; fix it up with the exact integer products.
  let q = Math.floor(n / d);
  if (q * d > n) q--;
  else if ((q + 1) * d <= n) q++;
  return q;
}

/** The same line with end points beyond float-exact range: big-integer arithmetic (rare; visible steps only). */
function drawLineBig(raster: Raster, x0: bigint, y0: bigint, x1: bigint, y1: bigint, value: number): void {
  const { width, height, data } = raster;
  const abs = (v: bigint): bigint => (v < 0n ? -v : v);
  const xMajor = abs(x1 - x0) >= abs(y1 - y0);
  // Walk along the major axis (m) and derive the minor one (k): swap roles for a y-major line.
  let [m0, k0, m1, k1] = xMajor ? [x0, y0, x1, y1] : [y0, x0, y1, x1];
  if (m1 < m0) [m0, k0, m1, k1] = [m1, k1, m0, k0];
  const dm = m1 - m0;
  const dk = k1 - k0;
  const majorSize = BigInt(xMajor ? width : height);
  const minorSize = xMajor ? height : width;
  const from = m0 > 0n ? m0 : 0n;
  const to = m1 < majorSize - 1n ? m1 : majorSize - 1n;
  for (let m = from; m <= to; m++) {
    let k = k0;
    if (dm !== 0n) {
      const n = 2n * (m - m0) * dk + dm;
      const d = 2n * dm;
      let q = n / d; // truncates toward zero: step down for negative non-exact quotients
      if (n % d !== 0n && n < 0n) q -= 1n;
      k += q;
    }
    if (k < 0n || k >= BigInt(minorSize)) continue;
    const km = Number(k);
    const mm = Number(m);
    data[xMajor ? km * width + mm : mm * width + km] = value;
  }
}

/** Sets the pixel at the floor of (x, y) when it lies in the image. */
export function setPixel(raster: Raster, x: number, y: number, value: number): void {
  const i = Math.floor(x);
  const j = Math.floor(y);
  if (i >= 0 && i < raster.width && j >= 0 && j < raster.height) raster.data[j * raster.width + i] = value;
}

/**
 * Area-weighted centroid of a polygon (shoelace); the mean of the vertices when the signed area is exactly 0
 * (collinear points, or a self-intersecting ring whose lobes cancel).
 */
export function polygonCentroid(points: readonly Point[]): [number, number] {
  const n = points.length;
  if (n === 0) return [NaN, NaN];
  // Relative to the first vertex, so large coordinates do not swamp the cross products.
  const [ox, oy] = points[0]!;
  let twiceArea = 0;
  let sx = 0;
  let sy = 0;
  let mx = 0;
  let my = 0;
  for (let k = 0; k < n; k++) {
    const p = points[k]!;
    const q = points[k + 1 === n ? 0 : k + 1]!;
    const x0 = p[0] - ox;
    const y0 = p[1] - oy;
    const x1 = q[0] - ox;
    const y1 = q[1] - oy;
    const cross = x0 * y1 - x1 * y0;
    twiceArea += cross;
    sx += (x0 + x1) * cross;
    sy += (y0 + y1) * cross;
    mx += x0;
    my += y0;
  }
  if (twiceArea === 0) return [ox + mx / n, oy + my / n];
  return [ox + sx / (3 * twiceArea), oy + sy / (3 * twiceArea)];
}
