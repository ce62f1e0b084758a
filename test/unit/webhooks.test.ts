/**
 * Webhooks without the host: the Standard Webhooks signature (the specification's own test vector), the CloudEvents
 * envelope, target URL and address rules, the retry schedule, the guarded HTTP attempt against real local servers,
 * and, on Azurite, the outbox: a status change writes its event in the same partition and transaction, queues a
 * delayed sweep before the write and an immediate one after, announces nothing when nobody listens or nothing
 * changes, and the dispatch job turns the row into deliveries exactly once however often it runs.
 */
import { createHmac } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Principal } from "../../shared/auth.js";
import { addImagesToCampaign, changeCampaignStatus, createCampaign } from "../../shared/app/campaigns.js";
import { createImageSet } from "../../shared/app/imageSets.js";
import { createWebhook } from "../../shared/app/webhooks.js";
import { loadConfig, type AppConfig } from "../../shared/config.js";
import {
  addressProblem,
  campaignEventOf,
  DEFAULT_RETRY_SCHEDULE,
  exportEventOf,
  imageSetEventOf,
  parseRetrySchedule,
  retryDelaySeconds,
  retryScheduleProblem,
  webhookUrlProblem,
} from "../../shared/domain/webhooks.js";
import { ApiError } from "../../shared/errors.js";
import { runWebhookDispatch } from "../../shared/jobs/webhookDispatch.js";
import { jobLog } from "../../shared/jobs/runtime.js";
import type { JobBody, JobSender, JobType, SendOptions } from "../../shared/queue/messages.js";
import { newExportId } from "../../shared/repos/exports.js";
import { StorageQueueJobSender } from "../../shared/queue/storageQueue.js";
import { createServices, type Services } from "../../shared/services.js";
import { provisionStorage } from "../../shared/storage/provision.js";
import { queryAll, rowPrefix } from "../../shared/storage/queries.js";
import { cloudEventBody, deliveryIdOf, newEvent } from "../../shared/webhooks/events.js";
import { postWebhook } from "../../shared/webhooks/http.js";
import { OUTBOX_PREFIX, outboxEvents, SWEEP_DELAY_SECONDS } from "../../shared/webhooks/outbox.js";
import { newWebhookSecret, signWebhook, webhookHeaders } from "../../shared/webhooks/signing.js";
import { testConfig } from "../support/env.js";
import { recordImages } from "../support/seed.js";

describe("Standard Webhooks signature", () => {
  it("matches the specification's reference test vector", () => {
    // From the Standard Webhooks reference libraries' tests ("sign function works").
    const signature = signWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, '{"test": 2432232314}');
    expect(signature).toBe("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  });

  it("signs `<id>.<timestamp>.<body>` with the decoded secret, as a receiver recomputes it", () => {
    const secret = newWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
    const key = Buffer.from(secret.slice("whsec_".length), "base64");
    expect(key.length).toBeGreaterThanOrEqual(24);
    expect(key.length).toBeLessThanOrEqual(64);
    const body = JSON.stringify({ text: "ünïcode ✓", n: 1 });
    const headers = webhookHeaders(secret, "msg_1", 1700000000, body);
    const expected = createHmac("sha256", key)
      .update(Buffer.from(`msg_1.1700000000.${body}`, "utf8"))
      .digest("base64");
    expect(headers).toEqual({ "webhook-id": "msg_1", "webhook-timestamp": "1700000000", "webhook-signature": `v1,${expected}` });
    expect(newWebhookSecret()).not.toBe(secret);
  });
});

describe("CloudEvents envelope", () => {
  it("is CloudEvents 1.0 structured JSON with the event's id, type, subject, time and data", () => {
    const event = newEvent("campaign.completed", "campaigns/12", { campaign_id: 12, status: "completed" }, new Date("2026-03-04T05:06:07.089Z"));
    expect(event.id).toMatch(/^evt_20260304050607089_[0-9a-f]{12}$/);
    const body = JSON.parse(cloudEventBody(event, "/label-pipeline/acct")) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(["data", "datacontenttype", "id", "source", "specversion", "subject", "time", "type"]);
    expect(body).toEqual({
      specversion: "1.0",
      id: event.id,
      source: "/label-pipeline/acct",
      type: "com.labelpipeline.campaign.completed",
      subject: "campaigns/12",
      time: "2026-03-04T05:06:07.089000Z",
      datacontenttype: "application/json",
      data: { campaign_id: 12, status: "completed" },
    });
    // RFC 3339, as CloudEvents requires of `time`.
    expect(body.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  });

  it("gives each (event, subscription) one stable delivery id without a '.'", () => {
    const event = newEvent("image.rejected", "campaigns/1/images/2", {});
    const a = deliveryIdOf(event.id, "wh_0000000000000001");
    expect(a).toBe(deliveryIdOf(event.id, "wh_0000000000000001"));
    expect(a).not.toBe(deliveryIdOf(event.id, "wh_0000000000000002"));
    expect(a).toMatch(/^msg_\d{17}_[0-9a-f]{16}$/);
  });
});

describe("which status changes are events", () => {
  it("announces only the changes the events name", () => {
    expect(campaignEventOf("created", "active")).toBe("campaign.activated");
    expect(campaignEventOf("completed", "active")).toBe("campaign.activated");
    expect(campaignEventOf("active", "completed")).toBe("campaign.completed");
    expect(campaignEventOf("finishing", "completed")).toBeUndefined(); // a refused finish undone
    expect(campaignEventOf("completed", "finishing")).toBeUndefined();
    expect(campaignEventOf("finishing", "finished")).toBe("campaign.finished");
    expect(campaignEventOf("finishing", "finish_failed")).toBe("campaign.finish_failed");
    expect(campaignEventOf("active", "active")).toBeUndefined();
    expect(imageSetEventOf("processing", "finished")).toBe("imageset.finished");
    expect(imageSetEventOf("processing", "failed")).toBe("imageset.failed");
    expect(imageSetEventOf("created", "processing")).toBeUndefined();
    expect(imageSetEventOf("finished", "finished")).toBeUndefined();
    expect(exportEventOf("running", "succeeded")).toBe("export.succeeded");
    expect(exportEventOf("queued", "failed")).toBe("export.failed");
    expect(exportEventOf("succeeded", "succeeded")).toBeUndefined();
    expect(exportEventOf("queued", "running")).toBeUndefined();
  });
});

describe("target URLs and addresses", () => {
  it("refuses loopback, private, link-local and other non-public addresses, IPv4-mapped and NAT64 forms included", () => {
    for (const address of [
      "127.0.0.1",
      "127.255.0.9",
      "10.1.2.3",
      "172.16.0.1",
      "172.31.255.255",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "224.0.0.1",
      "255.255.255.255",
      "168.63.129.16",
      "::1",
      "::",
      "fe80::1",
      "fe80::1%eth0",
      "fc00::1",
      "fd12:3456::1",
      "ff02::1",
      "::ffff:127.0.0.1",
      "::ffff:7f00:1",
      "::ffff:10.0.0.1",
      "::ffff:169.254.169.254",
      "64:ff9b::a9fe:a9fe",
      "2002:c0a8:101::1",
      "2001:db8::1",
      "not-an-address",
    ]) {
      expect(addressProblem(address), address).not.toBeNull();
    }
    for (const address of ["8.8.8.8", "1.1.1.1", "172.32.0.1", "192.169.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "2a00:1450:4001::200e"]) {
      expect(addressProblem(address), address).toBeNull();
    }
  });

  it("accepts public https URLs and refuses the rest (unless private targets are allowed)", () => {
    expect(webhookUrlProblem("https://example.com/hooks?token=1", false)).toBeNull();
    expect(webhookUrlProblem("https://8.8.8.8:8443/x", false)).toBeNull();
    const refused: Array<[string, RegExp]> = [
      ["http://example.com/", /https/],
      ["ftp://example.com/", /https/],
      ["example.com/hook", /absolute URL/],
      ["https://user:pw@example.com/", /credentials/],
      ["https://token@example.com/", /credentials/],
      ["https://example.com/#frag", /fragment/],
      ["https://exa mple.com/", /whitespace/],
      ["https://example.com/\n", /control/],
      [`https://example.com/${"a".repeat(2100)}`, /2048/],
      ["https://127.0.0.1/", /loopback/],
      ["https://[::1]:8080/", /loopback/],
      ["https://[::ffff:127.0.0.1]/", /loopback/],
      ["https://[::ffff:a9fe:a9fe]/", /link-local/],
      ["https://2130706433/", /loopback/], // 127.0.0.1 as one number: URL parsing normalises it
      ["https://0x7f.1/", /loopback/],
      ["https://10.0.0.8/", /private/],
      ["https://169.254.169.254/metadata", /link-local/],
      ["https://localhost/", /localhost/],
      ["https://app.localhost./", /localhost/],
    ];
    for (const [url, reason] of refused) expect(webhookUrlProblem(url, false), url).toMatch(reason);
    // Local development: http and private targets are fine, the other rules hold.
    expect(webhookUrlProblem("http://127.0.0.1:9999/hook", true)).toBeNull();
    expect(webhookUrlProblem("https://localhost/", true)).toBeNull();
    expect(webhookUrlProblem("https://user:pw@127.0.0.1/", true)).toMatch(/credentials/);
    expect(webhookUrlProblem("ftp://127.0.0.1/", true)).toMatch(/http/);
  });
});

describe("retry schedule", () => {
  it("defaults to the Standard Webhooks schedule cut at about a day, with up to 10% jitter, then gives up", () => {
    const schedule = parseRetrySchedule(DEFAULT_RETRY_SCHEDULE);
    expect(schedule).toEqual([5, 300, 1800, 7200, 18_000, 36_000, 36_000]);
    const total = schedule.reduce((a, b) => a + b, 0);
    expect(total / 3600).toBeGreaterThan(20);
    expect(total / 3600).toBeLessThan(30);
    expect(schedule.map((_, i) => retryDelaySeconds(schedule, i, () => 0))).toEqual(schedule);
    expect(retryDelaySeconds(schedule, 2, () => 0.999)).toBe(1980);
    expect(retryDelaySeconds(schedule, schedule.length)).toBeUndefined();
    expect(retryDelaySeconds([], 0)).toBeUndefined();
  });

  it("is a setting: WEBHOOK_RETRY_SCHEDULE, checked at start-up", () => {
    expect(loadConfig({}).settings.WEBHOOK_RETRY_SCHEDULE).toBe(DEFAULT_RETRY_SCHEDULE);
    expect(loadConfig({ WEBHOOK_RETRY_SCHEDULE: "1, 2,3" }).settings.WEBHOOK_RETRY_SCHEDULE).toBe("1, 2,3");
    for (const bad of ["0", "1,,2", "-5", "1.5", "abc", "604801", Array(21).fill("1").join(",")]) {
      expect(retryScheduleProblem(bad), bad).not.toBeNull();
      expect(() => loadConfig({ WEBHOOK_RETRY_SCHEDULE: bad }), bad).toThrow(/WEBHOOK_RETRY_SCHEDULE/);
    }
    expect(loadConfig({}).settings.WEBHOOK_ALLOW_PRIVATE_TARGETS).toBe(false);
    expect(loadConfig({ WEBHOOK_ALLOW_PRIVATE_TARGETS: "true" }).settings.WEBHOOK_ALLOW_PRIVATE_TARGETS).toBe(true);
    expect(() => loadConfig({ WEBHOOK_ALLOW_PRIVATE_TARGETS: "yes" })).toThrow(/WEBHOOK_ALLOW_PRIVATE_TARGETS/);
  });
});

describe("an attempt over HTTP", () => {
  let server: Server;
  let port: number;
  const seen: Array<{ path: string; headers: IncomingMessage["headers"]; body: string }> = [];
  const routes: Record<string, (res: ServerResponse) => void> = {
    "/ok": (res) => res.writeHead(204).end(),
    "/redirect": (res) => res.writeHead(302, { Location: "/ok" }).end(),
    "/big": (res) => res.writeHead(500, { "Content-Type": "text/plain" }).end("é".repeat(5000)),
    "/hang": () => {},
  };
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString("utf8")));
      req.on("end", () => {
        seen.push({ path: req.url ?? "", headers: req.headers, body });
        (routes[req.url ?? ""] ?? ((r: ServerResponse) => r.writeHead(404).end()))(res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("posts the body with the CloudEvents content type and the given headers", async () => {
    const result = await postWebhook(`http://127.0.0.1:${port}/ok`, { "webhook-id": "msg_x" }, '{"a":1}', { allowPrivate: true });
    expect(result).toMatchObject({ statusCode: 204, error: null });
    const request = seen.find((s) => s.path === "/ok")!;
    expect(request.body).toBe('{"a":1}');
    expect(request.headers["content-type"]).toBe("application/cloudevents+json; charset=utf-8");
    expect(request.headers["webhook-id"]).toBe("msg_x");
  });

  it("does not follow a redirect", async () => {
    const before = seen.length;
    const result = await postWebhook(`http://127.0.0.1:${port}/redirect`, {}, "{}", { allowPrivate: true });
    expect(result.statusCode).toBe(302);
    await new Promise((r) => setTimeout(r, 100));
    expect(seen.slice(before).map((s) => s.path)).toEqual(["/redirect"]);
  });

  it("keeps at most 1 KB of the answer", async () => {
    const result = await postWebhook(`http://127.0.0.1:${port}/big`, {}, "{}", { allowPrivate: true });
    expect(result.statusCode).toBe(500);
    expect(Buffer.byteLength(result.responseBody)).toBe(1024);
    expect(result.responseBody.startsWith("éé")).toBe(true);
  });

  it("gives up when there is no answer within the timeout", async () => {
    const result = await postWebhook(`http://127.0.0.1:${port}/hang`, {}, "{}", { allowPrivate: true, timeoutMs: 300 });
    expect(result.statusCode).toBeNull();
    expect(result.error).toMatch(/no answer within 0.3 s/);
    expect(result.durationMs).toBeLessThan(2000);
  });

  it("refuses private targets without connecting unless they are allowed, for literal addresses and names alike", async () => {
    const before = seen.length;
    for (const url of [`https://127.0.0.1:${port}/ok`, `https://[::ffff:127.0.0.1]:${port}/ok`, `http://127.0.0.1:${port}/ok`]) {
      const result = await postWebhook(url, {}, "{}", { allowPrivate: false });
      expect(result.statusCode, url).toBeNull();
      expect(result.error, url).toMatch(/^refused: /);
    }
    // A name is resolved when connecting, and its addresses checked there (localhost resolves from /etc/hosts).
    const byName = await postWebhook(`https://localhost:${port}/ok`, {}, "{}", { allowPrivate: false });
    expect(byName.statusCode).toBeNull();
    expect(byName.error).toMatch(/refused: localhost resolves to a non-public address, (127\.0\.0\.1|::1) \(loopback\)/);
    expect(seen.length).toBe(before);
    // Allowed: the same name connects.
    expect((await postWebhook(`http://localhost:${port}/ok`, {}, "{}", { allowPrivate: true })).statusCode).toBe(204);
  });
});

// ---------------------------------------------------------------------------------------------------
// The outbox, on Azurite

/** Sends through the real Storage queue and keeps what was sent, with the outbox rows that existed at that moment. */
class WatchingSender implements JobSender {
  sent: Array<{ type: JobType; body: unknown; options?: SendOptions; outboxRows: number }> = [];
  constructor(
    private readonly inner: JobSender,
    private readonly outboxRowsOf: (body: JobBody<"webhook-dispatch">) => Promise<number>,
  ) {}
  async send<T extends JobType>(type: T, body: JobBody<T>, options?: SendOptions): Promise<void> {
    const outboxRows = type === "webhook-dispatch" ? await this.outboxRowsOf(body as JobBody<"webhook-dispatch">) : -1;
    this.sent.push({ type, body, options, outboxRows });
    await this.inner.send(type, body, options);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

describe("the outbox", () => {
  let config: AppConfig;
  let services: Services;
  let sender: WatchingSender;
  const admin: Principal = { apikey: "wh-admin", role: "image-admin", email: "admin@webhooks.example" };
  const quiet = jobLog(() => {}, {});
  const outboxRows = async (table: "records" | "campaignData" | "exports", partition: string) =>
    queryAll(services.clients.table(table), rowPrefix(partition, OUTBOX_PREFIX));

  beforeAll(async () => {
    config = testConfig({ WEBHOOK_ALLOW_PRIVATE_TARGETS: "true" });
    const plain = createServices(config);
    sender = new WatchingSender(new StorageQueueJobSender(config, plain.clients.queueService), async (b) => (await outboxRows(b.table, b.partition)).length);
    services = createServices(config, { queue: sender });
    await provisionStorage(config, services.clients, { queues: true });
  });

  let titles = 0;
  const campaign = async () =>
    (await createCampaign(services, admin, { title: `${config.prefix}-wh-${++titles}`, labeler_email: `p${titles}@webhooks.example` })).campaign.campaignId;

  it("records nothing and queues nothing while no subscription listens", async () => {
    const id = await campaign();
    await changeCampaignStatus(services, id, "active");
    expect(await outboxRows("records", "campaigns")).toEqual([]);
    expect(sender.sent.filter((s) => s.type === "webhook-dispatch")).toEqual([]);
  });

  it("writes the event with the change, sweeping before (delayed) and after, and dispatches it exactly once", async () => {
    const webhook = await createWebhook(services, admin, { url: "http://127.0.0.1:9/never", events: ["campaign.activated", "campaign.completed"] });
    const id = await campaign();
    sender.sent = [];
    await changeCampaignStatus(services, id, "active");
    const rows = await outboxRows("records", "campaigns");
    expect(rows).toHaveLength(1);
    expect(String(rows[0]!.rowKey)).toMatch(/^outbox!evt_\d{17}_[0-9a-f]{12}$/);
    const sweeps = sender.sent.filter((s) => s.type === "webhook-dispatch");
    expect(sweeps).toEqual([
      // Before the transaction (no row yet), delayed; after it (the row is there), at once.
      { type: "webhook-dispatch", body: { table: "records", partition: "campaigns" }, options: { delaySeconds: SWEEP_DELAY_SECONDS }, outboxRows: 0 },
      { type: "webhook-dispatch", body: { table: "records", partition: "campaigns" }, options: undefined, outboxRows: 1 },
    ]);
    // A repeated request that changes nothing announces nothing.
    await services.campaigns.update(id, (c) => (c.status === "created" ? { status: "active" } : null));
    await services.campaigns.update(id, () => ({ status: "active" }));
    expect(await outboxRows("records", "campaigns")).toHaveLength(1);

    sender.sent = [];
    await runWebhookDispatch(services, { table: "records", partition: "campaigns" }, quiet);
    expect(await outboxRows("records", "campaigns")).toEqual([]);
    const page = await services.webhooks.deliveryPage(webhook.webhook_id, 0, 10);
    expect(page.total).toBe(1);
    const [delivery] = page.deliveries;
    expect(delivery).toMatchObject({ eventType: "campaign.activated", subject: `campaigns/${id}`, status: "pending", attempts: 0, nextAttempt: 1 });
    // The listing leaves the body behind; the delivery itself has it.
    expect(delivery!.body).toBe("");
    expect(JSON.parse((await services.webhooks.getDelivery(webhook.webhook_id, 0))!.body)).toMatchObject({
      type: "com.labelpipeline.campaign.activated",
      data: { campaign_id: id, status: "active", previous_status: "created" },
    });
    expect(sender.sent).toEqual([
      { type: "webhook-deliver", body: { webhookId: webhook.webhook_id, position: 0, attempt: 1 }, options: undefined, outboxRows: -1 },
    ]);

    // The campaign list, counts and reads do not see the outbox rows.
    expect(await services.campaigns.count()).toBeGreaterThanOrEqual(2);
    expect((await services.campaigns.page(0, 100)).every((c) => typeof c.title === "string" && c.campaignId > 0)).toBe(true);
  });

  it("a dispatch repeated after it crashed half-way (row not yet deleted) finds the deliveries it made", async () => {
    const webhook = await createWebhook(services, admin, { url: "http://127.0.0.1:9/never", events: ["*"] });
    const id = await campaign();
    await changeCampaignStatus(services, id, "active");
    const [row] = await outboxRows("records", "campaigns");
    const deliveryId = deliveryIdOf(outboxEvents(row!)[0]!.id, webhook.webhook_id);
    // The crash: the deliveries were made (the dispatch's first step), the row was not deleted.
    await runWebhookDispatch(services, { table: "records", partition: "campaigns" }, quiet);
    const columns = Object.fromEntries(Object.entries(row!).filter(([k]) => k.startsWith("events_")));
    await services.clients.table("records").createEntity({ partitionKey: "campaigns", rowKey: String(row!.rowKey), ...columns });
    await runWebhookDispatch(services, { table: "records", partition: "campaigns" }, quiet);
    const page = await services.webhooks.deliveryPage(webhook.webhook_id, 0, 10);
    expect(page.deliveries.filter((d) => d.deliveryId === deliveryId)).toHaveLength(1);
    expect(page.total).toBe(1);
    expect(await services.webhooks.findDelivery(webhook.webhook_id, deliveryId)).toBe(0);
  });

  it("keeps outbox rows out of every read of the partitions they share (campaign images, exports, image sets)", async () => {
    const imageIds = await recordImages(services, `${config.prefix}-outbox`, 3);
    const id = await campaign();
    await addImagesToCampaign(
      services,
      admin,
      id,
      imageIds.map((i) => ({ id: i })),
    );
    await changeCampaignStatus(services, id, "active");
    await services.campaigns.updateImages(id, imageIds.slice(0, 2), () => ({ labelStatus: "user_complete" }));
    const reviewed = await services.campaigns.updateImages(id, [imageIds[0]!], () => ({ labelStatus: "rejected", reviewComment: "no" }));
    expect(reviewed.changed).toEqual([imageIds[0]]);
    const bucket = services.campaigns.imagePartition(id, imageIds[0]!);
    const [rejection] = await outboxRows("campaignData", bucket);
    expect(outboxEvents(rejection!)).toMatchObject([
      { type: "image.rejected", subject: `campaigns/${id}/images/${imageIds[0]}`, data: { campaign_id: id, image_id: imageIds[0], review_comment: "no" } },
    ]);
    const page = await services.campaigns.imagePage(id, {}, 0, 100);
    expect(page.total).toBe(3);
    expect(page.images.map((i) => i.imageId)).toEqual(imageIds);
    const scanned: number[] = [];
    for await (const rows of services.campaigns.scanImages(id)) scanned.push(...rows.map((r) => r.imageId));
    expect(scanned).toEqual(imageIds);
    expect(await services.campaigns.progress(id)).toEqual({ done: 1, total: 3 });
    expect((await services.campaigns.refreshProgress(id, imageIds)).progress).toEqual({ done: 1, total: 3 });
    expect(await services.labelBatches.history(id, imageIds[0]!)).toEqual([]);

    const exportId = newExportId(id);
    await services.exports.create({
      exportId,
      campaignId: id,
      format: "csv",
      options: {},
      status: "queued",
      createdBy: admin.email,
      dateCreated: new Date().toISOString(),
      dateStarted: null,
      dateFinished: null,
      progressDone: 0,
      progressTotal: 0,
      imageCount: 0,
      objectCount: 0,
      warnings: [],
      warningCount: 0,
      blobName: null,
      error: null,
      stage: null,
    });
    await services.exports.update(exportId, () => ({ status: "failed", error: "test" }));
    await services.exports.update(exportId, () => ({ status: "failed", error: "again" })); // no change of status: no event
    const exportRows = await outboxRows("exports", `campaign!${String(id).padStart(12, "0")}`);
    expect(exportRows.flatMap((row) => outboxEvents(row).map((e) => e.type))).toEqual(["export.failed"]);
    expect((await services.exports.listForCampaign(id)).map((e) => e.exportId)).toEqual([exportId]);

    const set = await createImageSet(services, admin, `${config.prefix}-outbox-set`, null);
    await services.imageSets.update(set.imagesetId, () => ({ status: "processing" }));
    await services.imageSets.update(set.imagesetId, () => ({ status: "failed", failureReason: "test" }));
    expect((await outboxRows("records", "imagesets")).flatMap((row) => outboxEvents(row).map((e) => e.type))).toEqual(["imageset.failed"]);
    expect(await services.imageSets.count()).toBe(1);
    expect((await services.imageSets.page(0, 10)).map((s) => s.imagesetId)).toEqual([set.imagesetId]);
  });

  it("refuses the change (503, nothing written) when the delayed sweep cannot be queued", async () => {
    const id = await campaign();
    const refusing: JobSender = {
      send: async () => {
        throw new Error("injected: the queue refused the message");
      },
      close: async () => {},
    };
    const down = createServices(config, { queue: refusing });
    const error = await changeCampaignStatus(down, id, "active").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(503);
    expect((await services.campaigns.get(id))!.status).toBe("created");
    const about = (await outboxRows("records", "campaigns")).flatMap((row) => outboxEvents(row)).filter((e) => e.subject === `campaigns/${id}`);
    expect(about).toEqual([]);
  });
});
