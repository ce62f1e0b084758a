/**
 * Campaign progress counting (shared/repos/campaigns.ts): every image is counted under one category (its
 * review state and test split) in its group's count row, the campaign's summary mirrors the count rows,
 * and `done`/`total` are sums of them. Driven through the store's public API in the sequences
 * shared/app/campaigns.ts uses (add images, store label batches, review, mark test data), on Azurite.
 *
 * Every check compares the counters against the image rows themselves, so a counter that drifts from
 * what the campaign really holds fails here, not only end to end.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { countsAsDone, LABEL_STATUSES, type LabelStatus, type StoredObject } from "../../shared/domain/labels.js";
import { categoryOf } from "../../shared/repos/campaigns.js";
import type { ImageRecord } from "../../shared/repos/images.js";
import { newLabelBatch } from "../../shared/repos/labelBatches.js";
import { createServices, type Services } from "../../shared/services.js";
import { bucketOf } from "../../shared/storage/buckets.js";
import { provisionStorage } from "../../shared/storage/provision.js";
import { statusOf } from "../../shared/storage/tableErrors.js";
import { testConfig } from "../support/env.js";
import { recordImages } from "../support/seed.js";

let services: Services;
beforeAll(async () => {
  const config = testConfig();
  services = createServices(config);
  await provisionStorage(config, services.clients, { queues: false });
});

let campaignSeq = 0;
async function newCampaign(): Promise<{ campaignId: number }> {
  const title = `counts-${++campaignSeq}`;
  const created = await services.campaigns.create({
    title,
    status: "active",
    metadata: null,
    labelTranslations: null,
    createdBy: "admin@test.example",
    labelerEmail: `${title}@example.com`,
    labelerApikey: `key-${title}`,
    dateCreated: "2024-01-01T00:00:00.000000Z",
    dateStarted: "2024-01-01T00:00:00.000000Z",
    dateCompleted: null,
    dateFinished: null,
    finishError: null,
  });
  return { campaignId: created!.campaignId };
}

/** A campaign holding `count` freshly recorded images. */
async function campaignWith(count: number): Promise<{ campaignId: number; ids: number[] }> {
  const { campaignId } = await newCampaign();
  const ids = await recordImages(services, `counts-${campaignSeq}`, count);
  const images = await services.images.getMany(ids);
  expect(await services.campaigns.addImages(campaignId, [...images.values()])).toBe(count);
  return { campaignId, ids };
}

const box = { xmin: 1, xmax: 10, ymin: 1, ymax: 10 };
const objects = (label: string): StoredObject[] => [{ label_original: label, label_translated: label, confidence: null, bounding_box: box, polygon: null }];

/** A partner's batch, stored as submitObjects stores it (validated against the rows it read). */
async function label(campaignId: number, ids: number[], tag = "a") {
  const known = await services.campaigns.findImages(campaignId, ids);
  const batch = newLabelBatch(
    campaignId,
    "partner@example.com",
    ids.map((imageId) => ({ imageId, objects: objects(tag) })),
  );
  return { batch, known, stored: await services.labelBatches.store(batch, known) };
}

/** Admin review, with reviewImages' change function. */
function review(campaignId: number, ids: number[], decision: "approve" | "reject") {
  const target: LabelStatus = decision === "approve" ? "admin_complete" : "rejected";
  const now = "2024-01-02T00:00:00.000000Z";
  return services.campaigns.updateImages(campaignId, ids, (image) =>
    image.labelStatus === "unlabeled"
      ? null
      : { labelStatus: target, reviewComment: decision === "reject" ? "redo" : "", reviewedBy: "admin@test.example", reviewedAt: now, lastActivityAt: now },
  );
}

/** Test-data marking, with markTestData's change function. */
function markTest(campaignId: number, ids: number[], testData: boolean) {
  return services.campaigns.updateImages(campaignId, ids, (image) => (image.testData === testData ? null : { testData }));
}

/** A review-state category's counter (the statistics' counters beside them are checked in campaignStats.test.ts). */
const CATEGORY = /^(unlabeled|user_complete|admin_complete|rejected)_[01]$/;

/** Categories with a non-zero count, from a set of per-group counters. */
function nonZero(counters: Iterable<Record<string, number>>): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const c of counters) for (const [name, n] of Object.entries(c)) if (CATEGORY.test(name)) sum[name] = (sum[name] ?? 0) + n;
  return Object.fromEntries(
    Object.entries(sum)
      .filter(([, n]) => n !== 0)
      .sort(([a], [b]) => a.localeCompare(b)),
  );
}

/** Done as the contract defines it: images whose partner labels stand (submitted, or approved). Written out, not taken from the code. */
const DONE = new Set(["user_complete_0", "user_complete_1", "admin_complete_0", "admin_complete_1"]);

/**
 * Asserts the campaign's counts are exactly `expected` (category -> images, zeros left out), in the
 * summary, in the count rows, in the image rows themselves (each also counted under its own category),
 * and in `progress`. Returns the progress.
 */
async function expectCounts(campaignId: number, expected: Record<string, number>) {
  const want = nonZero([expected]);
  const set = services.campaigns.images(campaignId);
  const [summary, exact] = await Promise.all([set.summary.read(), set.exactCounts()]);
  expect(summary, "the summary mirrors the count rows").toEqual(exact);
  expect(nonZero([...exact.values()].map((c) => c.counters)), "count rows").toEqual(want);
  const total = Object.values(want).reduce((a, b) => a + b, 0);
  expect(
    [...exact.values()].reduce((n, c) => n + c.total, 0),
    "count rows' total",
  ).toBe(total);

  const rows: Record<string, number> = {};
  for await (const page of services.campaigns.scanImages(campaignId)) {
    for (const image of page) {
      const category = categoryOf(image.labelStatus, image.testData);
      expect(image.countedAs, `image ${image.imageId} is counted under its own category`).toBe(category);
      rows[category] = (rows[category] ?? 0) + 1;
    }
  }
  expect(nonZero([rows]), "image rows").toEqual(want);

  const progress = await services.campaigns.progress(campaignId);
  const done = Object.entries(want).reduce((n, [category, count]) => n + (DONE.has(category) ? count : 0), 0);
  expect(progress).toEqual({ done, total });
  return progress;
}

describe("categories", () => {
  it("names an image's counter by review state and test split", () => {
    expect(categoryOf("unlabeled", false)).toBe("unlabeled_0");
    expect(categoryOf("user_complete", true)).toBe("user_complete_1");
    // Every (state, split) pair has a counter of its own.
    const all = LABEL_STATUSES.flatMap((s) => [categoryOf(s, false), categoryOf(s, true)]);
    expect(new Set(all).size).toBe(LABEL_STATUSES.length * 2);
  });

  it("counts submitted and approved images as done, unlabeled and rejected ones not", () => {
    expect(Object.fromEntries(LABEL_STATUSES.map((s) => [s, countsAsDone(s)]))).toEqual({
      unlabeled: false,
      user_complete: true,
      admin_complete: true,
      rejected: false,
    });
  });
});

describe("campaign counts", () => {
  it("counts images by label status and test split through labeling, approval, rejection and test-data marking", async () => {
    const { campaignId, ids } = await campaignWith(6);
    const [a, b, c, d, e, f] = ids as [number, number, number, number, number, number];
    await expectCounts(campaignId, { unlabeled_0: 6 });

    const labeled = await label(campaignId, [a, b, c, d]);
    expect(labeled.stored.progress).toEqual({ done: 4, total: 6 });
    await expectCounts(campaignId, { user_complete_0: 4, unlabeled_0: 2 });

    const approved = await review(campaignId, [a, b], "approve");
    expect(approved.changed.sort()).toEqual([a, b].sort());
    expect(approved.progress).toEqual({ done: 4, total: 6 });
    await expectCounts(campaignId, { admin_complete_0: 2, user_complete_0: 2, unlabeled_0: 2 });

    const rejected = await review(campaignId, [c], "reject");
    expect(rejected.progress).toEqual({ done: 3, total: 6 });
    await expectCounts(campaignId, { admin_complete_0: 2, user_complete_0: 1, rejected_0: 1, unlabeled_0: 2 });

    // Test data: an approved, a rejected and an unlabeled image move to the test split; done is unchanged.
    const marked = await markTest(campaignId, [a, c, e], true);
    expect(marked.changed.sort()).toEqual([a, c, e].sort());
    expect(marked.progress).toEqual({ done: 3, total: 6 });
    await expectCounts(campaignId, { admin_complete_0: 1, admin_complete_1: 1, user_complete_0: 1, rejected_1: 1, unlabeled_0: 1, unlabeled_1: 1 });

    // Filtered lists take their totals from the same counters.
    const page = async (filter: Parameters<Services["campaigns"]["imagePage"]>[1]) => {
      const { total, images } = await services.campaigns.imagePage(campaignId, filter, 0, 50);
      expect(images).toHaveLength(total);
      return images.map((i) => i.imageId);
    };
    expect(await page({ testData: true })).toEqual([a, c, e]);
    expect(await page({ testData: false })).toEqual([b, d, f]);
    expect(await page({ labelStatus: ["admin_complete"] })).toEqual([a, b]);
    expect(await page({ labelStatus: ["unlabeled", "rejected"], testData: true })).toEqual([c, e]);
  });

  it("moves a relabeled image between categories without counting it twice", async () => {
    const { campaignId, ids } = await campaignWith(3);
    const [a, b, c] = ids as [number, number, number];
    await label(campaignId, ids);
    await expectCounts(campaignId, { user_complete_0: 3 });

    await markTest(campaignId, [c], true);
    await review(campaignId, [c], "reject");
    await expectCounts(campaignId, { user_complete_0: 2, rejected_1: 1 });

    // The partner relabels the rejected image: back to user_complete, in the same (test) split.
    const relabeled = await label(campaignId, [c], "b");
    expect(relabeled.stored.progress).toEqual({ done: 3, total: 3 });
    await expectCounts(campaignId, { user_complete_0: 2, user_complete_1: 1 });
    expect((await services.campaigns.getImage(campaignId, c))!.objects[0]!.label_original).toBe("b");

    // Relabeling images that are already user_complete changes their labels, not their counts.
    const again = await label(campaignId, [a, b], "c");
    expect(again.stored.progress).toEqual({ done: 3, total: 3 });
    await expectCounts(campaignId, { user_complete_0: 2, user_complete_1: 1 });

    // An approved image relabeled by the partner is user_complete again (one counter down, one up).
    await review(campaignId, [a], "approve");
    await expectCounts(campaignId, { admin_complete_0: 1, user_complete_0: 1, user_complete_1: 1 });
    await label(campaignId, [a], "d");
    await expectCounts(campaignId, { user_complete_0: 2, user_complete_1: 1 });

    await markTest(campaignId, [c], false);
    await expectCounts(campaignId, { user_complete_0: 3 });
  });

  it("counts a repeated identical write once", async () => {
    const { campaignId, ids } = await campaignWith(4);
    const [a, b] = ids as [number, number];

    // Adding the same images again adds and counts nothing.
    const images = await services.images.getMany(ids);
    expect(await services.campaigns.addImages(campaignId, [...images.values()])).toBe(0);
    await expectCounts(campaignId, { unlabeled_0: 4 });

    // The same label batch stored twice (a retried request, with the image state it validated against).
    const first = await label(campaignId, [a, b]);
    const retried = await services.labelBatches.store(first.batch, first.known);
    expect(retried).toEqual({ progress: { done: 2, total: 4 }, reachedTotal: false });
    await expectCounts(campaignId, { user_complete_0: 2, unlabeled_0: 2 });
    expect(await services.labelBatches.history(campaignId, a)).toHaveLength(1);

    // The same review twice.
    await review(campaignId, [a], "approve");
    const twice = await review(campaignId, [a], "approve");
    expect(twice.progress).toEqual({ done: 2, total: 4 });
    await expectCounts(campaignId, { admin_complete_0: 1, user_complete_0: 1, unlabeled_0: 2 });
  });

  it("refuses a replayed image write made against counts it has already moved (same count-row version)", async () => {
    const { campaignId, ids } = await campaignWith(3);
    const [a] = ids as [number];
    const { countRows, images } = await services.campaigns.readImages(campaignId, [a]);
    const change = [{ image: images.get(a)!, fields: { labelStatus: "user_complete" } }];
    const { before, after } = await services.campaigns.writeImages(campaignId, countRows, change);
    // The count row moved one image from unlabeled to user_complete, and its version went up by one.
    const group = [...after.keys()][0]!;
    expect(after.get(group)!.version).toBe(before.get(group)!.version + 1);
    expect(after.get(group)!.counters).toMatchObject({ unlabeled_0: 2, user_complete_0: 1 });

    // The same write again (same ETags, same count-row version): storage refuses it, nothing is counted twice.
    const replay = await services.campaigns.writeImages(campaignId, countRows, change).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(replay, "a replayed write must fail").toBeDefined();
    expect([409, 412]).toContain(statusOf(replay));

    await services.campaigns.recordCounts(campaignId, before, after);
    await expectCounts(campaignId, { user_complete_0: 1, unlabeled_0: 2 });

    // A newer change of the same group, then the older counts arriving late (a redelivered or slow writer):
    // the summary keeps the newer counts.
    const second = await services.campaigns.readImages(campaignId, [ids[1]!]);
    const next = await services.campaigns.writeImages(campaignId, second.countRows, [
      { image: second.images.get(ids[1]!)!, fields: { labelStatus: "user_complete" } },
    ]);
    expect((await services.campaigns.recordCounts(campaignId, next.before, next.after)).progress).toEqual({ done: 2, total: 3 });
    expect((await services.campaigns.recordCounts(campaignId, before, after)).progress).toEqual({ done: 2, total: 3 });
    await expectCounts(campaignId, { user_complete_0: 2, unlabeled_0: 1 });

    // Refreshing from the count rows, any number of times, changes nothing.
    expect(await services.campaigns.refreshProgress(campaignId, ids)).toEqual({ progress: { done: 2, total: 3 }, reachedTotal: false });
    expect(await services.campaigns.refreshProgress(campaignId, ids)).toEqual({ progress: { done: 2, total: 3 }, reachedTotal: false });
  });

  it("lets done (user_complete, admin_complete) drive progress and completion: only a change that raises done to total completes", async () => {
    const { campaignId, ids } = await campaignWith(4);
    const [a, b, c, d] = ids as [number, number, number, number];
    await label(campaignId, [a, b, c]);
    await review(campaignId, [a], "approve");
    await review(campaignId, [b], "reject");
    // One image in each state: admin_complete and user_complete count, rejected and unlabeled do not.
    expect(await expectCounts(campaignId, { admin_complete_0: 1, rejected_0: 1, user_complete_0: 1, unlabeled_0: 1 })).toEqual({ done: 2, total: 4 });

    // Labeling d and relabeling b brings done to total: that write reports it.
    const last = await label(campaignId, [b, d]);
    expect(last.stored).toEqual({ progress: { done: 4, total: 4 }, reachedTotal: true });

    // Approving at done == total does not raise done: no second completion.
    const approval = await review(campaignId, [b, c, d], "approve");
    expect(approval).toMatchObject({ progress: { done: 4, total: 4 }, reachedTotal: false });
    // Marking test data neither.
    expect(await markTest(campaignId, [c], true)).toMatchObject({ progress: { done: 4, total: 4 }, reachedTotal: false });

    // A rejection lowers done; relabeling the rejected image raises it to total again.
    expect(await review(campaignId, [c], "reject")).toMatchObject({ progress: { done: 3, total: 4 }, reachedTotal: false });
    expect((await label(campaignId, [c])).stored).toEqual({ progress: { done: 4, total: 4 }, reachedTotal: true });
    await expectCounts(campaignId, { admin_complete_0: 3, user_complete_1: 1 });
  });
});

describe("campaign counts across buckets", () => {
  /** Image records with chosen ids (the campaign store takes what the image store recorded; no image blobs are read). */
  const imagesWithIds = (ids: number[]): ImageRecord[] =>
    ids.map((imageId) => ({
      imageId,
      blobPath: `uploads/buckets/${imageId}.png`,
      imagesetId: 1,
      imagesetTitle: "buckets",
      width: 100,
      height: 80,
      filesize: 1,
      filetype: "PNG",
      dateTaken: null,
      lat: null,
      lon: null,
    }));

  it("sums images in different buckets (ids over 1,000 apart) into one total, and repairs a summary a dead writer left behind", async () => {
    const ids = [42, 999, 1000, 2_500, 7_001];
    expect(new Set(ids.map(bucketOf)).size).toBe(4);
    const { campaignId } = await newCampaign();
    expect(await services.campaigns.addImages(campaignId, imagesWithIds(ids))).toBe(5);
    await expectCounts(campaignId, { unlabeled_0: 5 });
    // Count rows live in each bucket; the summary has them all.
    expect([...(await services.campaigns.images(campaignId).summary.read()).keys()]).toEqual([0, 9, 10, 25, 70]);

    // Pages run across buckets in id order.
    const { total, images } = await services.campaigns.imagePage(campaignId, {}, 1, 3);
    expect(total).toBe(5);
    expect(images.map((i) => i.imageId)).toEqual([999, 1000, 2_500]);

    // One batch over four buckets (stored staged, then applied per group) completes the campaign once.
    const labeled = await label(campaignId, [7_001, 42, 2_500]);
    expect(labeled.stored).toEqual({ progress: { done: 3, total: 5 }, reachedTotal: false });
    expect((await label(campaignId, [999, 1000])).stored).toEqual({ progress: { done: 5, total: 5 }, reachedTotal: true });
    await markTest(campaignId, [1000, 7_001], true);
    await expectCounts(campaignId, { user_complete_0: 3, user_complete_1: 2 });

    // A writer that dies between its bucket's transaction and the summary: the summary lags behind.
    const reject = async (imageId: number, labelStatus: LabelStatus) => {
      const { countRows, images } = await services.campaigns.readImages(campaignId, [imageId]);
      await services.campaigns.writeImages(campaignId, countRows, [{ image: images.get(imageId)!, fields: { labelStatus } }]);
    };
    await reject(7_001, "rejected");
    expect(await services.campaigns.progress(campaignId)).toEqual({ done: 5, total: 5 });
    // The progress job repairs it from the count rows; lowering done never reports completion.
    expect(await services.campaigns.refreshProgress(campaignId, [7_001])).toEqual({ progress: { done: 4, total: 5 }, reachedTotal: false });
    await expectCounts(campaignId, { user_complete_0: 3, user_complete_1: 1, rejected_1: 1 });

    // Relabeled by a writer that dies before the summary again: the repair is what raises done to total.
    await reject(7_001, "user_complete");
    expect(await services.campaigns.progress(campaignId)).toEqual({ done: 4, total: 5 });
    expect(await services.campaigns.refreshProgress(campaignId, [7_001])).toEqual({ progress: { done: 5, total: 5 }, reachedTotal: true });
    // A second delivery of the same repair finds nothing to raise.
    expect(await services.campaigns.refreshProgress(campaignId, [7_001])).toEqual({ progress: { done: 5, total: 5 }, reachedTotal: false });
    await expectCounts(campaignId, { user_complete_0: 3, user_complete_1: 2 });
  });
});
