/** Integer id ranges `[from, to]` (inclusive): merging, membership and grouping ids into runs for range reads. */

/** Sorted, merged id ranges; past `maxRanges` the ranges with the smallest gaps merge, giving a superset. */
export function mergeRanges(maxRanges: number, ranges: Array<[number, number]>): Array<[number, number]> {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const [from, to] of sorted) {
    const last = merged[merged.length - 1];
    if (last && from <= last[1] + 1) last[1] = Math.max(last[1], to);
    else merged.push([from, to]);
  }
  while (merged.length > maxRanges) {
    // Merge across the smallest gaps, about a tenth of the excess at a time.
    const gaps = merged.slice(1).map((r, i) => r[0] - merged[i]![1]).sort((a, b) => a - b);
    const cut = gaps[Math.max(0, Math.ceil((merged.length - maxRanges) / 10) - 1)]!;
    for (let i = merged.length - 1; i > 0; i--) {
      if (merged[i]![0] - merged[i - 1]![1] <= cut && merged.length > maxRanges) {
        merged[i - 1]![1] = merged[i]![1];
        merged.splice(i, 1);
      }
    }
  }
  return merged;
}

/** Whether an id falls in one of the sorted ranges (binary search). */
export function inRanges(ranges: ReadonlyArray<[number, number]>, id: number): boolean {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [from, to] = ranges[mid]!;
    if (id < from) hi = mid - 1;
    else if (id > to) lo = mid + 1;
    else return true;
  }
  return false;
}

/** Sorted ids grouped into runs `[from, to]`: an id joins a run across gaps of up to 4, and a run spans fewer than 1,000 ids. */
export function idRuns(ids: number[]): Array<[number, number]> {
  const runs: Array<[number, number]> = [];
  for (const id of [...new Set(ids)].sort((a, b) => a - b)) {
    const last = runs[runs.length - 1];
    if (last && id - last[1] <= 4 && id - last[0] < 1000) last[1] = id;
    else runs.push([id, id]);
  }
  return runs;
}
