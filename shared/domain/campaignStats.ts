/**
 * Per-campaign statistics, kept as named counters in the campaign's count rows (one per group of 100
 * image ids) beside the review-state counters, in the same transactions as the changes they count, and
 * mirrored in the summary with them. Reading them is a sum over count rows; writing them costs nothing
 * extra per submission or review (the count row is in the transaction anyway).
 *
 * Counters (the count row's `c_<name>` columns):
 * - `sub`: submissions that took effect (an image in a label batch that committed; relabels count again);
 * - `objs`: objects in those submissions;
 * - `approve`, `reject`: review decisions that changed an image's state (approving an approved image, or
 *   rejecting a rejected one again, is no decision);
 * - `first`, `last`: earliest and latest activity (a counted submission's commit time, a decision's time),
 *   as fractional days since 1970-01-01 UTC: epoch milliseconds would not fit the Int32 that Table storage
 *   infers for a whole number written without a type annotation, and a fraction makes it a Double;
 * - `d<yyyymmdd>`: submissions committed on that UTC day, at most MAX_DAYS_PER_GROUP days per count row;
 *   older days are folded into `dfolded` so the totals stay exact (a group of 100 images labeled on more
 *   than 200 different days is far outside normal use, and this keeps a count row under the 252
 *   properties and the summary row of 10 groups far under its 1 MiB).
 */
import { LABEL_STATUSES } from "./labels.js";

/** Days kept per count row in the submissions-per-day counters before the oldest are folded. */
export const MAX_DAYS_PER_GROUP = 200;

const DAY_MS = 86_400_000;
const DAY_COUNTER = /^d(\d{4})(\d{2})(\d{2})$/;

/** What one change adds to a count row's statistics. */
export interface Tally {
  submissions: number;
  objects: number;
  approvals: number;
  rejections: number;
  /** When it happened, epoch ms. */
  at: number;
}

/** A label batch's share in one count row: `objectCounts` holds each of its images' number of objects there. */
export function submissionTally(committedAt: string, objectCounts: readonly number[]): Tally {
  return { submissions: objectCounts.length, objects: objectCounts.reduce((a, b) => a + b, 0), approvals: 0, rejections: 0, at: Date.parse(committedAt) };
}

/**
 * The review decision an image change makes, if any: the image moves into `admin_complete` or `rejected`
 * from another state, outside a submission (a submission's change carries `labelsBatch`). Its time is the
 * change's `reviewedAt` (or `lastActivityAt`), else now.
 */
export function reviewTally(current: { labelStatus: string }, fields: Record<string, unknown>): Tally | undefined {
  const next = fields.labelStatus;
  if ((next !== "admin_complete" && next !== "rejected") || next === current.labelStatus || fields.labelsBatch !== undefined) return undefined;
  const stamp = typeof fields.reviewedAt === "string" ? fields.reviewedAt : typeof fields.lastActivityAt === "string" ? fields.lastActivityAt : undefined;
  const at = stamp ? Date.parse(stamp) : NaN;
  return {
    submissions: 0,
    objects: 0,
    approvals: next === "admin_complete" ? 1 : 0,
    rejections: next === "rejected" ? 1 : 0,
    at: Number.isFinite(at) ? at : Date.now(),
  };
}

/** The day counter of a moment: `d20260115`. */
export function dayCounter(at: number): string {
  return `d${new Date(at).toISOString().slice(0, 10).replaceAll("-", "")}`;
}

/** Adds a tally to a count row's counters (in place), folding the oldest days past MAX_DAYS_PER_GROUP. */
export function addTally(counters: Record<string, number>, tally: Tally): void {
  const add = (name: string, n: number) => {
    if (n) counters[name] = (counters[name] ?? 0) + n;
  };
  add("sub", tally.submissions);
  add("objs", tally.objects);
  add("approve", tally.approvals);
  add("reject", tally.rejections);
  if (!tally.submissions && !tally.approvals && !tally.rejections) return;
  if (Number.isFinite(tally.at)) {
    const days = tally.at / DAY_MS;
    // Whole days (exactly midnight) are stored as such; any other moment is a fraction.
    counters.first = counters.first ? Math.min(counters.first, days) : days;
    counters.last = counters.last ? Math.max(counters.last, days) : days;
    if (tally.submissions) add(dayCounter(tally.at), tally.submissions);
  }
  const days = Object.keys(counters)
    .filter((name) => DAY_COUNTER.test(name))
    .sort();
  for (const oldest of days.slice(0, Math.max(0, days.length - MAX_DAYS_PER_GROUP))) {
    add("dfolded", counters[oldest]!);
    delete counters[oldest];
  }
}

/** A campaign's (or several campaigns') statistics, summed from count rows. */
export interface CampaignStats {
  images: number;
  /** Images with at least one submission: every image not `unlabeled` (only a submission moves it out, and nothing moves it back). */
  imagesSubmitted: number;
  submissions: number;
  objects: number;
  /** Images `admin_complete` now. */
  approved: number;
  /** Images `rejected` now. */
  rejected: number;
  /** Review decisions taken. */
  approvals: number;
  rejections: number;
  /** Epoch ms, or null before any counted activity. */
  firstActivity: number | null;
  lastActivity: number | null;
  /** Submissions per UTC day (`YYYY-MM-DD`), days ascending. */
  perDay: Array<{ date: string; submissions: number }>;
  /** Submissions on days folded out of the per-day counters (see MAX_DAYS_PER_GROUP): 0 in normal use. */
  folded: number;
}

/** Sums count rows' counters into statistics (any number of count rows, of any number of campaigns). */
export function statsOf(countRows: Iterable<{ total: number; counters: Record<string, number> }>): CampaignStats {
  const sum = new Map<string, number>();
  let images = 0;
  let first = Infinity;
  let last = -Infinity;
  for (const row of countRows) {
    images += row.total;
    for (const [name, n] of Object.entries(row.counters)) {
      if (name === "first") {
        if (n) first = Math.min(first, n);
      } else if (name === "last") {
        if (n) last = Math.max(last, n);
      } else sum.set(name, (sum.get(name) ?? 0) + n);
    }
  }
  const count = (...names: string[]) => names.reduce((total, name) => total + (sum.get(name) ?? 0), 0);
  const perDay = [...sum]
    .flatMap(([name, n]) => {
      const m = DAY_COUNTER.exec(name);
      return m && n ? [{ date: `${m[1]}-${m[2]}-${m[3]}`, submissions: n }] : [];
    })
    .sort((a, b) => a.date.localeCompare(b.date));
  const inState = (status: string) => count(`${status}_0`, `${status}_1`);
  return {
    images,
    imagesSubmitted: LABEL_STATUSES.filter((s) => s !== "unlabeled").reduce((n, s) => n + inState(s), 0),
    submissions: count("sub"),
    objects: count("objs"),
    approved: inState("admin_complete"),
    rejected: inState("rejected"),
    approvals: count("approve"),
    rejections: count("reject"),
    firstActivity: Number.isFinite(first) ? Math.round(first * DAY_MS) : null,
    lastActivity: Number.isFinite(last) ? Math.round(last * DAY_MS) : null,
    perDay,
    folded: count("dfolded"),
  };
}

/** A ratio rounded to 4 decimals, or null without a denominator. */
export function ratio(part: number, whole: number): number | null {
  return whole > 0 ? Math.round((part / whole) * 10_000) / 10_000 : null;
}
