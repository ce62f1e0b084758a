/**
 * The rules behind labeler keys and statistics, without storage: key states (revoked, expired), when the
 * last use is written, the expiry timestamp rule, and how statistics are counted into a count row's
 * counters and summed back (shared/domain/labelers.ts, shared/domain/campaignStats.ts).
 */
import { describe, expect, it } from "vitest";
import { addTally, dayCounter, MAX_DAYS_PER_GROUP, ratio, reviewTally, statsOf, submissionTally } from "../../shared/domain/campaignStats.js";
import { keyState, lastUseDue, parseTimestamp, updateLabelerSchema } from "../../shared/domain/labelers.js";

const at = (iso: string) => Date.parse(iso);

describe("labeler keys", () => {
  it("a key is revoked once revokedAt is set, expired from expiresAt on, and revoked wins", () => {
    const now = at("2026-03-01T12:00:00Z");
    expect(keyState({}, now)).toBe("active");
    expect(keyState({ revokedAt: "", expiresAt: "" }, now)).toBe("active");
    expect(keyState({ expiresAt: "2026-03-01T12:00:01.000000Z" }, now)).toBe("active");
    expect(keyState({ expiresAt: "2026-03-01T12:00:00.000000Z" }, now)).toBe("expired");
    expect(keyState({ expiresAt: "2020-01-01T00:00:00.000000Z" }, now)).toBe("expired");
    expect(keyState({ revokedAt: "2026-02-01T00:00:00.000000Z" }, now)).toBe("revoked");
    expect(keyState({ revokedAt: "2026-02-01T00:00:00.000000Z", expiresAt: "2020-01-01T00:00:00.000000Z" }, now)).toBe("revoked");
  });

  it("the last use is written when never written, or a minute or more ago", () => {
    const now = at("2026-03-01T12:00:00Z");
    expect(lastUseDue(undefined, now)).toBe(true);
    expect(lastUseDue("", now)).toBe(true);
    expect(lastUseDue("2026-03-01T11:59:00.500000Z", now)).toBe(false);
    expect(lastUseDue("2026-03-01T11:59:00.000000Z", now)).toBe(true);
    expect(lastUseDue("not a time", now)).toBe(true);
  });

  it("expires_at is a real ISO 8601 moment with a zone, stored as the contract's UTC timestamp", () => {
    expect(parseTimestamp("2027-01-31T00:00:00Z")).toBe("2027-01-31T00:00:00.000000Z");
    expect(parseTimestamp("2027-01-31T01:30+01:00")).toBe("2027-01-31T00:30:00.000000Z");
    expect(parseTimestamp("2027-01-31T00:00:00.123456Z")).toBe("2027-01-31T00:00:00.123000Z");
    expect(parseTimestamp("2001-01-01T00:00:00Z")).toBe("2001-01-01T00:00:00.000000Z");
    for (const bad of [
      "2027-02-30T00:00:00Z",
      "2027-13-01T00:00:00Z",
      "2027-01-31T24:00:00Z",
      "2027-01-31T00:60:00Z",
      "2027-01-31T00:00:00",
      "2027-01-31",
      "1969-12-31T23:59:59Z",
      "2027-01-31T00:00:00+25:00",
      "tomorrow",
      "",
      " 2027-01-31T00:00:00Z",
    ])
      expect(parseTimestamp(bad), bad).toBeNull();
  });

  it("PATCH /labelers/{apikey} takes expires_at (timestamp or null) and/or revoked, nothing else", () => {
    expect(updateLabelerSchema.safeParse({ expires_at: "2020-01-01T00:00:00Z" }).success).toBe(true);
    expect(updateLabelerSchema.safeParse({ expires_at: null }).success).toBe(true);
    expect(updateLabelerSchema.safeParse({ revoked: false }).success).toBe(true);
    expect(updateLabelerSchema.safeParse({ revoked: true, expires_at: null }).success).toBe(true);
    for (const bad of [{}, { expires_at: "2027-02-30T00:00:00Z" }, { expires_at: 5 }, { revoked: "no" }, { expires_at: null, role: "image-admin" }])
      expect(updateLabelerSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
  });
});

describe("statistics counters", () => {
  const DAY = 86_400_000;

  it("a submission tally counts its images, their objects, its UTC day and its time as first and last activity", () => {
    const counters: Record<string, number> = { unlabeled_0: 3 };
    addTally(counters, submissionTally("2026-03-01T23:59:59.999000Z", [2, 0, 5]));
    expect(counters).toMatchObject({ unlabeled_0: 3, sub: 3, objs: 7, d20260301: 3 });
    expect(Math.round(counters.first! * DAY)).toBe(at("2026-03-01T23:59:59.999Z"));
    // The next moment is the next UTC day; first stays, last moves.
    addTally(counters, submissionTally("2026-03-02T00:00:00.000000Z", [1]));
    expect(counters).toMatchObject({ sub: 4, objs: 8, d20260301: 3, d20260302: 1 });
    expect(Math.round(counters.first! * DAY)).toBe(at("2026-03-01T23:59:59.999Z"));
    expect(counters.last! * DAY).toBe(at("2026-03-02T00:00:00Z"));
    // An earlier one (a late-applied batch) moves first back.
    addTally(counters, submissionTally("2026-02-27T10:00:00.000000Z", [0]));
    expect(Math.round(counters.first! * DAY)).toBe(at("2026-02-27T10:00:00Z"));
    expect(dayCounter(at("2026-02-27T10:00:00Z"))).toBe("d20260227");
  });

  it("a review decision is a change into admin_complete or rejected from another state, outside a submission", () => {
    const fields = (labelStatus: string) => ({ labelStatus, reviewedAt: "2026-03-05T08:00:00.000000Z", lastActivityAt: "2026-03-05T08:00:00.000000Z" });
    expect(reviewTally({ labelStatus: "user_complete" }, fields("admin_complete"))).toMatchObject({
      approvals: 1,
      rejections: 0,
      at: at("2026-03-05T08:00:00Z"),
    });
    expect(reviewTally({ labelStatus: "admin_complete" }, fields("rejected"))).toMatchObject({ approvals: 0, rejections: 1 });
    // The same state again is no decision (a repeated review request counts nothing).
    expect(reviewTally({ labelStatus: "admin_complete" }, fields("admin_complete"))).toBeUndefined();
    expect(reviewTally({ labelStatus: "rejected" }, fields("rejected"))).toBeUndefined();
    // A submission (it moves the image to user_complete and carries its batch) and a test-data mark are not reviews.
    expect(reviewTally({ labelStatus: "rejected" }, { labelStatus: "user_complete", labelsBatch: "b" })).toBeUndefined();
    expect(reviewTally({ labelStatus: "user_complete" }, { testData: true })).toBeUndefined();
    const counters: Record<string, number> = {};
    addTally(counters, reviewTally({ labelStatus: "user_complete" }, fields("rejected"))!);
    expect(counters).toMatchObject({ reject: 1 });
    expect(counters.sub).toBeUndefined();
    expect(Object.keys(counters).some((k) => k.startsWith("d2"))).toBe(false);
  });

  it(`keeps at most ${MAX_DAYS_PER_GROUP} days per count row, folding the oldest so totals stay exact`, () => {
    const counters: Record<string, number> = {};
    const start = at("2026-01-01T12:00:00Z");
    for (let day = 0; day < MAX_DAYS_PER_GROUP + 5; day++) addTally(counters, submissionTally(new Date(start + day * DAY).toISOString(), [1, 1]));
    const days = Object.keys(counters).filter((k) => /^d\d{8}$/.test(k));
    expect(days).toHaveLength(MAX_DAYS_PER_GROUP);
    expect(days.sort()[0]).toBe("d20260106");
    expect(counters.dfolded).toBe(10);
    expect(counters.sub).toBe(2 * (MAX_DAYS_PER_GROUP + 5));
    // A late submission on a folded day is folded too.
    addTally(counters, submissionTally("2026-01-02T00:00:00Z", [1]));
    expect(counters.d20260102).toBeUndefined();
    expect(counters.dfolded).toBe(11);
    const stats = statsOf([{ total: 2, counters }]);
    expect(stats.perDay.reduce((n, d) => n + d.submissions, 0) + stats.folded).toBe(stats.submissions);
  });

  it("sums count rows (of one or many campaigns) into statistics", () => {
    const a: Record<string, number> = { unlabeled_0: 1, user_complete_0: 2, admin_complete_1: 1, rejected_0: 1 };
    addTally(a, submissionTally("2026-03-01T10:00:00Z", [3, 3, 3]));
    addTally(a, submissionTally("2026-03-02T10:00:00Z", [1]));
    const b: Record<string, number> = { admin_complete_0: 2 };
    addTally(b, submissionTally("2026-03-02T11:00:00Z", [2, 2]));
    addTally(b, reviewTally({ labelStatus: "user_complete" }, { labelStatus: "admin_complete", reviewedAt: "2026-03-03T09:00:00Z" })!);
    addTally(b, reviewTally({ labelStatus: "user_complete" }, { labelStatus: "admin_complete", reviewedAt: "2026-03-03T09:00:00Z" })!);
    addTally(b, reviewTally({ labelStatus: "user_complete" }, { labelStatus: "rejected", reviewedAt: "2026-03-03T09:30:00Z" })!);
    const stats = statsOf([
      { total: 5, counters: a },
      { total: 2, counters: b },
      { total: 0, counters: {} },
    ]);
    expect(stats).toEqual({
      images: 7,
      imagesSubmitted: 6,
      submissions: 6,
      objects: 14,
      approved: 3,
      rejected: 1,
      approvals: 2,
      rejections: 1,
      firstActivity: at("2026-03-01T10:00:00Z"),
      lastActivity: at("2026-03-03T09:30:00Z"),
      perDay: [
        { date: "2026-03-01", submissions: 3 },
        { date: "2026-03-02", submissions: 3 },
      ],
      folded: 0,
    });
    expect(statsOf([])).toMatchObject({ images: 0, submissions: 0, firstActivity: null, lastActivity: null, perDay: [] });
    expect(ratio(1, 3)).toBe(0.3333);
    expect(ratio(1, 0)).toBeNull();
  });
});
