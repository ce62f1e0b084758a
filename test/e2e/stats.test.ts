/**
 * Statistics over real HTTP through the local host (`GET /campaigns/{id}/stats`, `GET /labelers/{key}/stats`):
 * exact after 50 parallel submissions, overlapping relabels, a staged batch and parallel duplicate reviews,
 * with every job message delivered twice (the label batches' check jobs twice each, right after the
 * requests, while the reviews run). Every number is compared with what the requests sent and with what
 * storage holds (the images' history and review states).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JobBody, JobType, SendOptions } from "../../shared/queue/messages.js";
import { StorageQueueJobSender } from "../../shared/queue/storageQueue.js";
import { createStorageClients } from "../../shared/storage/clients.js";
import { DuplicatingSender } from "../support/duplicatingSender.js";
import { testConfig } from "../support/env.js";
import { recordImages } from "../support/seed.js";
import { call, startTestStack, waitFor, type TestStack } from "../support/stack.js";

/**
 * Every message twice (DuplicatingSender); a label batch's check job, which the app delays two minutes, is
 * held instead and sent (twice, at once) by `release`, so the test sees it run without waiting for it.
 */
class TwiceAndHeld extends DuplicatingSender {
  held: Array<{ type: JobType; body: unknown }> = [];
  override async send<T extends JobType>(type: T, body: JobBody<T>, options?: SendOptions): Promise<void> {
    if (type === "campaign-submission" && options?.delaySeconds) this.held.push({ type, body });
    else await super.send(type, body, options);
  }
  async release(): Promise<number> {
    const held = this.held.splice(0);
    await Promise.all(held.map(({ type, body }) => super.send(type, body as JobBody<typeof type>)));
    return held.length;
  }
}

let stack: TestStack;
let sender: TwiceAndHeld;
beforeAll(async () => {
  const config = testConfig({ MAX_BODY_BYTES: String(1024 * 1024) });
  sender = new TwiceAndHeld(new StorageQueueJobSender(config, createStorageClients(config).queueService));
  stack = await startTestStack({ config, queue: sender, workerConcurrency: 8 });
});
afterAll(async () => stack?.stop());

const box = { xmin: 1, xmax: 10, ymin: 1, ymax: 10 };
const entry = (imageId: number, objects: number) => ({
  image_id: imageId,
  objects: Array.from({ length: objects }, () => ({ label: "a", bounding_box: box })),
});

async function activeCampaign(title: string, email: string, imageIds: number[]) {
  const created = await call(stack, "POST", "/campaigns", stack.admin, { title, labeler_email: email });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const id = created.body.campaign_id as number;
  expect(
    (
      await call(
        stack,
        "POST",
        `/campaigns/${id}/images`,
        stack.admin,
        imageIds.map((i) => ({ id: i })),
      )
    ).body,
  ).toBe("ok");
  expect((await call(stack, "PUT", `/campaigns/${id}`, stack.admin, { new_status: "active" })).body).toBe("ok");
  return { id, apikey: created.body.access_token.apikey as string, secret: created.body.access_token.apisecret as string | null };
}

const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** Submissions and objects per UTC day as storage holds them: every history entry of the images. */
async function history(campaignId: number, ids: number[]) {
  const perDay = new Map<string, number>();
  let submissions = 0;
  let objects = 0;
  for (const id of ids) {
    for (const e of await stack.host.services.labelBatches.history(campaignId, id)) {
      submissions++;
      objects += e.objects.length;
      perDay.set(e.submittedAt.slice(0, 10), (perDay.get(e.submittedAt.slice(0, 10)) ?? 0) + 1);
    }
  }
  return { submissions, objects, perDay: [...perDay].sort().map(([date, n]) => ({ date, submissions: n })) };
}

describe("statistics", () => {
  const started = Date.now();
  let x: Awaited<ReturnType<typeof activeCampaign>>;
  let xIds: number[];
  let partner: Record<string, string>;

  it("are exact after 50 parallel submissions, relabels, a staged batch and duplicate reviews, with every job message twice", async () => {
    xIds = await recordImages(stack.host.services, "stats-x", 300);
    x = await activeCampaign("stats-x", "stats-partner@example.com", xIds);
    partner = { "Authentication-Key": x.apikey, "Authentication-Secret": x.secret! };

    // 50 batches of 4 (ids 0-199), 10 overlapping relabels of 20, and one staged batch of 100 (ids 200-299).
    const requests = [
      ...Array.from({ length: 50 }, (_, b) => xIds.slice(b * 4, b * 4 + 4).map((id) => entry(id, b % 3))),
      ...Array.from({ length: 10 }, (_, b) => xIds.slice(b * 20, b * 20 + 20).map((id) => entry(id, 2))),
      xIds.slice(200, 300).map((id) => entry(id, 1)),
    ];
    const answers = await Promise.all(requests.map((body) => call(stack, "PUT", `/campaigns/${x.id}/objects`, partner, body)));
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    const sentSubmissions = requests.reduce((n, r) => n + r.length, 0);
    const sentObjects = requests.reduce((n, r) => n + r.reduce((m, e) => m + e.objects.length, 0), 0);
    expect(sentSubmissions).toBe(500);

    // The check jobs arrive (twice each) while the admin reviews, every review request sent twice at once.
    const checks = await sender.release();
    expect(checks).toBe(requests.length);
    const reviews = await Promise.all([
      ...[0, 1].map(() => call(stack, "PUT", `/campaigns/${x.id}/review`, stack.admin, { image_ids: xIds.slice(0, 100), decision: "approve" })),
      ...[0, 1].map(() =>
        call(stack, "PUT", `/campaigns/${x.id}/review`, stack.admin, { image_ids: xIds.slice(100, 130), decision: "reject", comment: "boxes too loose" }),
      ),
    ]);
    expect(reviews.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    await waitFor(
      "both deliveries of every check job",
      async () => stack.logs.filter((l) => l.includes('"job":"campaign-submission"') && l.includes("done in")).length >= 2 * checks,
      60_000,
    );
    // Approving approved images again decides nothing.
    expect((await call(stack, "PUT", `/campaigns/${x.id}/review`, stack.admin, { image_ids: xIds.slice(0, 10), decision: "approve" })).status).toBe(200);

    const stats = await call(stack, "GET", `/campaigns/${x.id}/stats`, stack.admin);
    expect(stats.status, JSON.stringify(stats.body)).toBe(200);
    const held = await history(x.id, xIds);
    expect(held).toMatchObject({ submissions: sentSubmissions, objects: sentObjects });
    expect(stats.body).toMatchObject({
      campaign_id: x.id,
      images: 300,
      images_submitted: 300,
      submissions: 500,
      objects: sentObjects,
      objects_per_image: Math.round((sentObjects / 500) * 10_000) / 10_000,
      approved: 100,
      rejected: 30,
      reviews: { approved: 100, rejected: 30 },
      rejection_rate: Math.round((30 / 130) * 10_000) / 10_000,
      submissions_per_day: held.perDay,
      submissions_before_days: 0,
    });
    // Per UTC day: the days the test ran on, summing to every submission.
    const days = new Set([utcDay(started), utcDay(Date.now())]);
    for (const d of stats.body.submissions_per_day) expect(days).toContain(d.date);
    expect(stats.body.submissions_per_day.reduce((n: number, d: { submissions: number }) => n + d.submissions, 0)).toBe(500);
    // First activity is the first submission, last the reviews after them.
    const first = Date.parse(stats.body.first_activity);
    const last = Date.parse(stats.body.last_activity);
    expect(first).toBeGreaterThanOrEqual(started - 1000);
    expect(last).toBeGreaterThan(first);
    expect(last).toBeLessThanOrEqual(Date.now() + 1000);
    // The current review states agree with the rows.
    const rows = await stack.host.services.campaigns.getImages(x.id, xIds);
    expect([...rows.values()].filter((i) => i.labelStatus === "admin_complete")).toHaveLength(100);
    expect([...rows.values()].filter((i) => i.labelStatus === "rejected")).toHaveLength(30);

    // The partner reads its campaign's numbers too; another partner does not see that the campaign exists.
    const own = await call(stack, "GET", `/campaigns/${x.id}/stats`, partner);
    expect(own.status).toBe(200);
    expect(own.body).toEqual(stats.body);
  });

  it("sum a labeler's campaigns, for the admin and for the labeler itself, and nobody else", async () => {
    const yIds = await recordImages(stack.host.services, "stats-y", 20);
    const y = await activeCampaign("stats-y", "Stats-Partner@example.com", yIds);
    expect(y.apikey).toBe(x.apikey);
    expect(y.secret).toBeNull();
    expect(
      (
        await call(
          stack,
          "PUT",
          `/campaigns/${y.id}/objects`,
          partner,
          yIds.map((id) => entry(id, 3)),
        )
      ).status,
    ).toBe(200);
    expect(
      (await call(stack, "PUT", `/campaigns/${y.id}/review`, stack.admin, { image_ids: yIds.slice(0, 5), decision: "reject", comment: "no" })).status,
    ).toBe(200);
    expect(
      (
        await call(
          stack,
          "PUT",
          `/campaigns/${y.id}/objects`,
          partner,
          yIds.slice(0, 5).map((id) => entry(id, 1)),
        )
      ).status,
    ).toBe(200);

    const [xs, ys] = await Promise.all([x.id, y.id].map(async (id) => (await call(stack, "GET", `/campaigns/${id}/stats`, stack.admin)).body));
    expect(ys).toMatchObject({
      images: 20,
      images_submitted: 20,
      submissions: 25,
      objects: 65,
      approved: 0,
      rejected: 0,
      reviews: { approved: 0, rejected: 5 },
    });
    const mine = await call(stack, "GET", `/labelers/${x.apikey}/stats`, partner);
    expect(mine.status, JSON.stringify(mine.body)).toBe(200);
    const perDay = new Map<string, number>();
    for (const d of [...xs.submissions_per_day, ...ys.submissions_per_day]) perDay.set(d.date, (perDay.get(d.date) ?? 0) + d.submissions);
    expect(mine.body).toEqual({
      apikey: x.apikey,
      email: "stats-partner@example.com",
      campaigns: [x.id, y.id],
      images: 320,
      images_submitted: 320,
      submissions: 525,
      objects: xs.objects + 65,
      objects_per_image: Math.round(((xs.objects + 65) / 525) * 10_000) / 10_000,
      approved: 100,
      rejected: 30,
      reviews: { approved: 100, rejected: 35 },
      rejection_rate: Math.round((35 / 135) * 10_000) / 10_000,
      first_activity: xs.first_activity,
      last_activity: ys.last_activity,
      submissions_per_day: [...perDay].sort().map(([date, submissions]) => ({ date, submissions })),
      submissions_before_days: 0,
    });
    expect((await call(stack, "GET", `/labelers/${x.apikey}/stats`, stack.admin)).body).toEqual(mine.body);

    // Another partner: its own numbers (nothing yet), nobody else's, and no sign that those exist.
    const other = await activeCampaign("stats-z", "stats-other@example.com", await recordImages(stack.host.services, "stats-z", 2));
    const otherHeaders = { "Authentication-Key": other.apikey, "Authentication-Secret": other.secret! };
    expect((await call(stack, "GET", `/labelers/${other.apikey}/stats`, otherHeaders)).body).toMatchObject({
      campaigns: [other.id],
      images: 2,
      submissions: 0,
      objects_per_image: null,
      rejection_rate: null,
      first_activity: null,
      last_activity: null,
      submissions_per_day: [],
    });
    for (const path of [`/labelers/${x.apikey}/stats`, `/campaigns/${x.id}/stats`, `/labelers/no-such-key/stats`, `/campaigns/999999/stats`]) {
      const r = await call(stack, "GET", path, otherHeaders);
      expect(r.status, path).toBe(404);
      expect(r.body.detail).toBeTypeOf("string");
    }
    expect((await call(stack, "GET", `/campaigns/${other.id}/stats`, otherHeaders)).status).toBe(200);
    // An admin key has no labeler statistics.
    expect((await call(stack, "GET", `/labelers/${stack.admin["Authentication-Key"]}/stats`, stack.admin)).status).toBe(409);
  });
});
