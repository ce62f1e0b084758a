/**
 * Statistics counted with the labels (shared/repos/labelBatches.ts, shared/repos/campaigns.ts writeImages,
 * shared/domain/campaignStats.ts) and the key lifecycle of shared/auth.ts, on Azurite.
 *
 * Every statistics check compares the counters with what storage holds: submissions with the images'
 * history entries, objects with the objects in them, decisions with the reviews that changed a state.
 * Batches are stored the way submitObjects stores them: in one transaction when they fit, staged and
 * applied chunk by chunk otherwise; the check job's settle runs beside them and again, as a duplicate
 * message would.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { UserStore, verifySecret, type Principal } from "../../shared/auth.js";
import { statsOf, type CampaignStats } from "../../shared/domain/campaignStats.js";
import type { LabelStatus, StoredObject } from "../../shared/domain/labels.js";
import { ApiError } from "../../shared/errors.js";
import { newLabelBatch } from "../../shared/repos/labelBatches.js";
import { createServices, type Services } from "../../shared/services.js";
import { provisionStorage } from "../../shared/storage/provision.js";
import { encodeKey } from "../../shared/storage/tableErrors.js";
import { testConfig } from "../support/env.js";
import { recordImages } from "../support/seed.js";

let services: Services;
beforeAll(async () => {
  const config = testConfig();
  services = createServices(config);
  await provisionStorage(config, services.clients, { queues: false });
});

let seq = 0;
async function campaignWith(count: number): Promise<{ campaignId: number; ids: number[] }> {
  const title = `stats-${++seq}`;
  const created = await services.campaigns.create({
    title,
    status: "active",
    metadata: null,
    labelTranslations: null,
    createdBy: "admin@test.example",
    labelerEmail: `${title}@example.com`,
    labelerApikey: `key-${title}`,
    dateCreated: "2026-01-01T00:00:00.000000Z",
    dateStarted: "2026-01-01T00:00:00.000000Z",
    dateCompleted: null,
    dateFinished: null,
    finishError: null,
  });
  const ids = await recordImages(services, title, count);
  await services.campaigns.addImages(created!.campaignId, [...(await services.images.getMany(ids)).values()]);
  return { campaignId: created!.campaignId, ids };
}

const box = { xmin: 1, xmax: 10, ymin: 1, ymax: 10 };
const objects = (n: number): StoredObject[] =>
  Array.from({ length: n }, () => ({ label_original: "a", label_translated: "a", confidence: null, bounding_box: box, polygon: null }));

/** A batch giving image `id` `perImage(id)` objects, as submitObjects builds it. */
function batchOf(campaignId: number, ids: number[], perImage: (id: number) => number = () => 1) {
  return newLabelBatch(
    campaignId,
    "partner@example.com",
    ids.map((imageId) => ({ imageId, objects: objects(perImage(imageId)) })),
  );
}

async function store(batch: ReturnType<typeof batchOf>) {
  return services.labelBatches.store(
    batch,
    await services.campaigns.findImages(
      batch.campaignId,
      batch.entries.map((e) => e.imageId),
    ),
  );
}

function review(campaignId: number, ids: number[], decision: "approve" | "reject") {
  const target: LabelStatus = decision === "approve" ? "admin_complete" : "rejected";
  const now = new Date().toISOString();
  return services.campaigns.updateImages(campaignId, ids, (image) =>
    image.labelStatus === "unlabeled"
      ? null
      : { labelStatus: target, reviewComment: "c", reviewedBy: "admin@test.example", reviewedAt: now, lastActivityAt: now },
  );
}

async function stats(campaignId: number): Promise<CampaignStats> {
  return statsOf((await services.campaigns.images(campaignId).exactCounts()).values());
}

/** What storage holds: every history entry of every image (submissions that took effect) and their objects. */
async function ground(campaignId: number, ids: number[]) {
  let submissions = 0;
  let objectCount = 0;
  const days = new Map<string, number>();
  for (const id of ids) {
    for (const entry of await services.labelBatches.history(campaignId, id)) {
      submissions++;
      objectCount += entry.objects.length;
      days.set(entry.submittedAt.slice(0, 10), (days.get(entry.submittedAt.slice(0, 10)) ?? 0) + 1);
    }
  }
  return { submissions, objects: objectCount, perDay: [...days].sort().map(([date, n]) => ({ date, submissions: n })) };
}

async function expectExact(campaignId: number, ids: number[]) {
  const [counted, held] = await Promise.all([stats(campaignId), ground(campaignId, ids)]);
  expect({ submissions: counted.submissions, objects: counted.objects, perDay: counted.perDay }).toEqual(held);
  // The summary mirrors the count rows, statistics included.
  expect(statsOf((await services.campaigns.images(campaignId).summary.read()).values())).toEqual(counted);
  return counted;
}

describe("statistics counted with the labels", () => {
  it("counts a batch stored in one transaction once, also when the request is retried", async () => {
    const { campaignId, ids } = await campaignWith(10);
    const batch = batchOf(campaignId, ids.slice(0, 4), (id) => (id % 3) + 1);
    const before = Date.now();
    await store(batch);
    // The same request again (a client retry with the same batch): nothing more is counted.
    await store(batch);
    const counted = await expectExact(campaignId, ids);
    expect(counted).toMatchObject({ images: 10, imagesSubmitted: 4, submissions: 4, approvals: 0, rejections: 0 });
    expect(counted.firstActivity).toBe(Date.parse(batch.committedAt));
    expect(counted.lastActivity).toBe(Date.parse(batch.committedAt));
    expect(counted.firstActivity!).toBeGreaterThanOrEqual(before - 1000);
    // The check job runs twice (a duplicate message): the batch is applied, nothing changes.
    expect(await services.labelBatches.settle(campaignId, batch.batchId, ids.slice(0, 4))).toBe("applied");
    expect(await services.labelBatches.settle(campaignId, batch.batchId, ids.slice(0, 4))).toBe("applied");
    expect(await stats(campaignId)).toEqual(counted);
  });

  it("counts a staged batch (two buckets, chunks of a group) once however often it is applied, concurrently or again", async () => {
    const { campaignId, ids } = await campaignWith(1150);
    const boundary = ids.findIndex((id) => id % 1000 === 0);
    const chosen = ids.slice(Math.max(0, boundary - 80), Math.max(0, boundary - 80) + 170);
    expect(new Set(chosen.map((id) => Math.floor(id / 1000))).size).toBe(2);
    const batch = batchOf(campaignId, chosen, () => 2);
    await store(batch);
    const once = await expectExact(campaignId, ids);
    expect(once).toMatchObject({ submissions: 170, objects: 340, imagesSubmitted: 170 });
    // As if the request died after applying but before marking the batch applied: the check job applies it
    // again, twice at once (a duplicate message).
    const home = services.campaigns.imagePartition(campaignId, Math.min(...chosen));
    await services.campaigns.data.updateEntity({ partitionKey: home, rowKey: `batch!${batch.batchId}`, state: "committed" }, "Merge");
    const settled = await Promise.all([0, 1, 2].map(() => services.labelBatches.settle(campaignId, batch.batchId, chosen)));
    expect(settled).toEqual(["applied", "applied", "applied"]);
    expect(await expectExact(campaignId, ids)).toEqual(once);
  });

  it("counts an older batch whose images a newer one took first: both submissions took effect", async () => {
    const { campaignId, ids } = await campaignWith(200);
    const olderSmall = batchOf(campaignId, ids.slice(0, 3));
    const olderLarge = batchOf(campaignId, ids.slice(10, 130));
    // Batch ids lead with their commit time (milliseconds); a tie would be settled by their random tails.
    await new Promise((resolve) => setTimeout(resolve, 5));
    const newerSmall = batchOf(campaignId, ids.slice(0, 3), () => 4);
    const newerLarge = batchOf(campaignId, ids.slice(10, 130), () => 4);
    await Promise.all([store(newerSmall), store(newerLarge)]);
    await Promise.all([store(olderSmall), store(olderLarge)]);
    const counted = await expectExact(campaignId, ids);
    expect(counted).toMatchObject({ submissions: 246, objects: 123 + 123 * 4, imagesSubmitted: 123 });
    // The images hold the newer labels.
    expect((await services.campaigns.getImage(campaignId, ids[0]!))!.objects).toHaveLength(4);
  });

  it("stays exact under parallel, overlapping batches and reviews", async () => {
    const { campaignId, ids } = await campaignWith(300);
    const batches = [
      ...Array.from({ length: 30 }, (_, i) => ids.slice(i * 10, i * 10 + 10)),
      ...Array.from({ length: 6 }, (_, i) => ids.slice(i * 50, i * 50 + 50)),
      ids.slice(95, 205),
    ].map((chunk, i) => batchOf(campaignId, chunk, () => i % 4));
    await Promise.all(batches.map((batch) => store(batch)));
    const checks = batches.flatMap((batch) =>
      [0, 1].map(() =>
        services.labelBatches.settle(
          campaignId,
          batch.batchId,
          batch.entries.map((e) => e.imageId),
        ),
      ),
    );
    await Promise.all([
      ...checks,
      review(campaignId, ids.slice(0, 100), "approve"),
      review(campaignId, ids.slice(0, 100), "approve"),
      review(campaignId, ids.slice(100, 140), "reject"),
      review(campaignId, ids.slice(100, 140), "reject"),
    ]);
    const counted = await expectExact(campaignId, ids);
    expect(counted.submissions).toBe(batches.reduce((n, b) => n + b.entries.length, 0));
    expect(counted).toMatchObject({ imagesSubmitted: 300, approved: 100, rejected: 40, approvals: 100, rejections: 40 });
    // Repeated reviews count nothing; a change of mind is a decision.
    await review(campaignId, ids.slice(0, 10), "approve");
    await review(campaignId, ids.slice(130, 140), "reject");
    await review(campaignId, ids.slice(0, 5), "reject");
    expect(await stats(campaignId)).toMatchObject({ approved: 95, rejected: 45, approvals: 100, rejections: 45 });
  });
});

describe("labeler keys in the users table", () => {
  let users: UserStore;
  beforeAll(() => {
    users = services.users;
  });
  const headers = (key: string, secret: string) => new Headers({ "Authentication-Key": key, "Authentication-Secret": secret });

  async function newLabeler(email: string): Promise<{ apikey: string; secret: string }> {
    const { apikey } = await users.reserveLabeler(email);
    const secret = (await users.issueSecret(apikey, email))!;
    return { apikey, secret };
  }

  it("a rotated secret replaces the old one at once, in this process too (the verification cache is keyed by the stored hash)", async () => {
    const { apikey, secret } = await newLabeler("rotate@example.com");
    // Verified once, so the old secret is in this process's cache.
    await users.authenticate(headers(apikey, secret));
    await users.authenticate(headers(apikey, secret));
    const fresh = await users.rotateSecret(apikey);
    expect(fresh).not.toBe(secret);
    await expect(users.authenticate(headers(apikey, secret))).rejects.toMatchObject({ status: 401 });
    expect(await users.authenticate(headers(apikey, fresh))).toMatchObject({ apikey, role: "labeler" });
    expect(await verifySecret(fresh, (await users.getUser(apikey))!.secretHash)).toBe(true);
  });

  it("two campaigns created at once for the same new address reserve one key: the race's losers read the winner's", async () => {
    const reservations = await Promise.all(Array.from({ length: 8 }, () => users.reserveLabeler("racing@example.com")));
    const keys = new Set(reservations.map((r) => r.apikey));
    expect(keys.size).toBe(1);
    expect(reservations.filter((r) => r.reserved)).toHaveLength(1);
    expect(reservations.every((r) => r.needsSecret)).toBe(true);
  });

  it("revoked and expired keys get 401; a revoked one is not revived by a new campaign", async () => {
    const { apikey, secret } = await newLabeler("ending@example.com");
    await users.updateUser(apikey, () => ({ expiresAt: new Date(Date.now() + 3_600_000).toISOString() }));
    await users.authenticate(headers(apikey, secret));
    await users.updateUser(apikey, () => ({ expiresAt: "2020-01-01T00:00:00.000000Z" }));
    await expect(users.authenticate(headers(apikey, secret))).rejects.toMatchObject({ status: 401, detail: expect.stringMatching(/expired/) });
    await expect(users.reserveLabeler("ending@example.com")).rejects.toMatchObject({ status: 409 });
    await users.updateUser(apikey, () => ({ expiresAt: "", revokedAt: new Date().toISOString() }));
    await expect(users.authenticate(headers(apikey, secret))).rejects.toMatchObject({ status: 401, detail: expect.stringMatching(/revoked/) });
    const refused = await users.reserveLabeler("Ending@example.com").catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).status).toBe(409);
    await users.updateUser(apikey, () => ({ revokedAt: "" }));
    expect(await users.reserveLabeler("ending@example.com")).toEqual({ apikey, reserved: false, needsSecret: false });
    await users.authenticate(headers(apikey, secret));
  });

  it("writes the last use at most once a minute, with one conditional write among concurrent requests, never failing a request", async () => {
    const { apikey, secret } = await newLabeler("lastuse@example.com");
    const principals: Principal[] = await Promise.all([0, 1, 2].map(() => users.authenticate(headers(apikey, secret))));
    await Promise.all(principals.map((p) => users.recordUse(p)));
    const first = (await users.getUser(apikey))!;
    expect(first.lastUsedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    // Within the minute: nothing is written.
    const again = await users.authenticate(headers(apikey, secret));
    await users.recordUse(again);
    expect((await users.getUser(apikey))!.etag).toBe(first.etag);
    // A minute later it is due again; a write that loses to another change (here a rotation) is dropped quietly.
    await services.clients
      .table("users")
      .updateEntity({ partitionKey: `key!${encodeKey(apikey)}`, rowKey: "user", lastUsedAt: "2026-01-01T00:00:00.000000Z" }, "Merge");
    const due = await users.authenticate(headers(apikey, secret));
    await users.rotateSecret(apikey);
    await users.recordUse(due);
    expect((await users.getUser(apikey))!.lastUsedAt).toBe("2026-01-01T00:00:00.000000Z");
  });

  it("indexes labelers where they are created, and labelers from before the index once, on the first listing", async () => {
    // Labelers written as the code before the index wrote them: a user row and an e-mail row, no index entry.
    const table = services.clients.table("users");
    const legacy = ["legacy-b", "legacy-a"].map((name, i) => ({
      apikey: `${name}-key`,
      email: `${name}@example.com`,
      createdAt: `2025-0${i + 1}-01T00:00:00.000Z`,
    }));
    for (const l of legacy)
      await table.createEntity({
        partitionKey: `key!${encodeKey(l.apikey)}`,
        rowKey: "user",
        role: "labeler",
        email: l.email,
        secretHash: "x",
        createdAt: l.createdAt,
      });
    await table.createEntity({
      partitionKey: `key!${encodeKey("some-admin")}`,
      rowKey: "user",
      role: "image-admin",
      email: "a@x",
      secretHash: "x",
      createdAt: "2025-01-01T00:00:00.000Z",
    });
    const count = await users.labelerCount();
    const listed = await users.labelerPage(0, 100);
    expect(listed.map((l) => l.apikey)).toEqual(expect.arrayContaining(legacy.map((l) => l.apikey)));
    expect(listed.map((l) => l.apikey)).not.toContain("some-admin");
    expect(listed).toHaveLength(count);
    // Once only: a legacy row written after the backfill is not picked up by a scan (it never runs again).
    await table.createEntity({
      partitionKey: `key!${encodeKey("late-key")}`,
      rowKey: "user",
      role: "labeler",
      email: "late@x",
      secretHash: "x",
      createdAt: "2025-03-01T00:00:00.000Z",
    });
    const created = await newLabeler("indexed@example.com");
    const after = await users.labelerPage(0, 1000);
    expect(after).toHaveLength(count + 1);
    expect(after.at(-1)).toMatchObject({ apikey: created.apikey, email: "indexed@example.com" });
    expect(after.map((l) => l.apikey)).not.toContain("late-key");
    // Pages are ranges of the index.
    expect(await users.labelerPage(1, 2)).toEqual(after.slice(1, 3));
  });
});
