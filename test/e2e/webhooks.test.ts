/**
 * Webhooks end to end, over real HTTP through the local host, with every job message delivered twice: a receiver
 * started here (node:http on 127.0.0.1) verifies every request's Standard Webhooks signature with its own
 * implementation of the specification's algorithm and checks the CloudEvents envelope. Through a whole flow (image
 * set, campaign, labels, review, finish, export) it sees each event once per change; it answers 500 twice to one
 * event and sees the retries under one webhook-id; a target answering 302 is not followed and is given up after the
 * schedule; ping, the deliveries list and redelivery; CRUD with bad input; and, on a stack with private targets
 * refused (the Azure setting), private targets refused at subscription and at delivery.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { lookup } from "node:dns/promises";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { hostname } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addressProblem } from "../../shared/domain/webhooks.js";
import { StorageQueueJobSender } from "../../shared/queue/storageQueue.js";
import { createStorageClients } from "../../shared/storage/clients.js";
import { DuplicatingSender } from "../support/duplicatingSender.js";
import { testConfig } from "../support/env.js";
import { png } from "../support/images.js";
import { call, startTestStack, uploadToDropbox, waitFor, type TestStack } from "../support/stack.js";

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  event: Record<string, any>;
  /** The subscription whose secret verified the signature (undefined: none did). */
  verifiedBy: string | undefined;
  answered: number;
}

/** The receiver's own Standard Webhooks verification: HMAC-SHA256 over `id.timestamp.body` with the base64 key after `whsec_`. */
function verify(secret: string, headers: IncomingHttpHeaders, body: string): boolean {
  const id = String(headers["webhook-id"] ?? "");
  const timestamp = String(headers["webhook-timestamp"] ?? "");
  if (!id || !/^\d+$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest();
  return String(headers["webhook-signature"] ?? "")
    .split(" ")
    .some((entry) => {
      const [version, signature] = entry.split(",");
      const given = Buffer.from(signature ?? "", "base64");
      return version === "v1" && given.length === expected.length && timingSafeEqual(given, expected);
    });
}

let stack: TestStack;
let receiver: Server;
let base: string;
const received: Received[] = [];
/** Secrets by subscription id, as the create answers gave them. */
const secrets = new Map<string, string>();
/** The webhook-id the receiver answers 500 twice: the first campaign.completed it sees. */
let failing: string | undefined;

const byId = (id: string) => received.filter((r) => r.headers["webhook-id"] === id);
const eventsOf = (webhookId: string) => received.filter((r) => r.verifiedBy === webhookId && r.answered === 200);

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      let event: Record<string, any> = {};
      try {
        event = JSON.parse(body) as Record<string, any>;
      } catch {
        // recorded as is; the checks fail on it
      }
      const verifiedBy = [...secrets].find(([, secret]) => verify(secret, req.headers, body))?.[0];
      const id = String(req.headers["webhook-id"]);
      if (!failing && event.type === "com.labelpipeline.campaign.completed") failing = id;
      let answered = 200;
      if (req.url === "/redirect") answered = 302;
      else if (id === failing && byId(id).length < 2) answered = 500;
      received.push({ path: req.url ?? "", headers: req.headers, body, event, verifiedBy, answered });
      // `/slow` keeps its delivery pending for a while.
      setTimeout(
        () => {
          res.writeHead(answered, answered === 302 ? { Location: `${base}/hook` } : { "Content-Type": "text/plain" });
          res.end(answered === 500 ? `busy ${"x".repeat(3000)}` : "ok");
        },
        req.url === "/slow" ? 2000 : 0,
      );
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

  // Local development settings (private targets allowed) and retries a second apart; every job message twice.
  const config = testConfig({ WEBHOOK_ALLOW_PRIVATE_TARGETS: "true", WEBHOOK_RETRY_SCHEDULE: "1,1,1" });
  const sender = new DuplicatingSender(new StorageQueueJobSender(config, createStorageClients(config).queueService));
  stack = await startTestStack({ config, queue: sender });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  receiver?.closeAllConnections();
  await new Promise((resolve) => receiver?.close(resolve));
});

async function subscribe(url: string, events: string[], description?: string): Promise<string> {
  const created = await call(stack, "POST", "/webhooks", stack.admin, { url, events, ...(description ? { description } : {}) });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  expect(created.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{40,}={0,2}$/);
  secrets.set(created.body.webhook_id, created.body.secret);
  return created.body.webhook_id as string;
}

const deliveries = async (webhookId: string) => {
  const answer = await call(stack, "GET", `/webhooks/${webhookId}/deliveries?per_page=100`, stack.admin);
  expect(answer.status).toBe(200);
  return answer.body.deliveries as any[];
};

describe("webhook subscriptions", () => {
  it("refuses bad input with a 4xx naming the problem, and changes nothing", async () => {
    const bad: Array<[unknown, number, RegExp]> = [
      [{ url: `${base}/hook` }, 422, /events/],
      [{ url: `${base}/hook`, events: [] }, 422, /events/],
      [{ url: `${base}/hook`, events: ["campaign.exploded"] }, 422, /events/],
      [{ url: `${base}/hook`, events: ["campaign.completed", "campaign.completed"] }, 422, /twice/],
      [{ url: `${base}/hook`, events: ["webhook.ping"] }, 422, /events/],
      [{ events: ["*"] }, 422, /url/],
      [{ url: "ftp://example.com/", events: ["*"] }, 422, /http/],
      [{ url: "not a url", events: ["*"] }, 422, /url/],
      [{ url: "https://user:secret@example.com/", events: ["*"] }, 422, /credentials/],
      [{ url: "https://example.com/#x", events: ["*"] }, 422, /fragment/],
      [{ url: `https://example.com/${"a".repeat(2100)}`, events: ["*"] }, 422, /2048/],
      [{ url: `${base}/hook`, events: ["*"], secret: "mine" }, 422, /secret|unrecognized/i],
      [{ url: `${base}/hook`, events: ["*"], description: "x".repeat(501) }, 422, /description/],
      ["[1,", 400, /JSON/],
    ];
    for (const [body, status, detail] of bad) {
      const answer = await call(stack, "POST", "/webhooks", stack.admin, body);
      expect(answer.status, JSON.stringify(body).slice(0, 100)).toBe(status);
      expect(answer.body.detail, JSON.stringify(body).slice(0, 100)).toMatch(detail);
    }
    expect((await call(stack, "GET", "/webhooks", stack.admin)).body.pagination.total).toBe(0);
    // Admins only.
    expect((await call(stack, "GET", "/webhooks", {})).status).toBe(401);
    for (const path of ["/webhooks/wh_0123456789abcdef", "/webhooks/nope", "/webhooks/wh_0123456789abcdef/deliveries"]) {
      expect((await call(stack, "GET", path, stack.admin)).status, path).toBe(404);
    }
    expect((await call(stack, "DELETE", "/webhooks/wh_0123456789abcdef", stack.admin)).status).toBe(404);
    expect((await call(stack, "POST", "/webhooks/wh_0123456789abcdef/ping", stack.admin)).status).toBe(404);
    expect((await call(stack, "PATCH", "/webhooks/wh_0123456789abcdef", stack.admin, { enabled: false })).status).toBe(404);
    expect((await call(stack, "PATCH", "/webhooks/wh_0123456789abcdef", stack.admin, {})).status).toBe(422);
  });

  it("answers the secret once and never shows it again; list, get, update and delete", async () => {
    const id = await subscribe(`${base}/hook`, ["campaign.finished"], "first try");
    const secret = secrets.get(id)!;
    const one = await call(stack, "GET", `/webhooks/${id}`, stack.admin);
    expect(one.body).toEqual({
      webhook_id: id,
      url: `${base}/hook`,
      events: ["campaign.finished"],
      description: "first try",
      enabled: true,
      created_by: "admin@test.example",
      date_created: expect.any(String),
      date_updated: expect.any(String),
    });
    const patched = await call(stack, "PATCH", `/webhooks/${id}`, stack.admin, {
      events: ["export.failed", "imageset.failed"],
      enabled: false,
      description: null,
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ events: ["export.failed", "imageset.failed"], enabled: false, description: null });
    for (const [body, detail] of [
      [{ enabled: "yes" }, /enabled/],
      [{ url: "https://10.0.0.1/" }, /.+/], // allowed here (local settings): a 200, checked below
      [{ events: [] }, /events/],
      [{ colour: "red" }, /colour|unrecognized/i],
    ] as const) {
      const answer = await call(stack, "PATCH", `/webhooks/${id}`, stack.admin, body);
      if ("url" in body) expect(answer.status).toBe(200);
      else {
        expect(answer.status, JSON.stringify(body)).toBe(422);
        expect(answer.body.detail).toMatch(detail);
      }
    }
    const list = await call(stack, "GET", "/webhooks", stack.admin);
    expect(list.body.webhooks.map((w: any) => w.webhook_id)).toContain(id);
    for (const text of [JSON.stringify(list.body), JSON.stringify((await call(stack, "GET", `/webhooks/${id}`, stack.admin)).body)]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain("whsec_");
    }
    expect((await call(stack, "DELETE", `/webhooks/${id}`, stack.admin)).body).toBe("ok");
    expect((await call(stack, "GET", `/webhooks/${id}`, stack.admin)).status).toBe(404);
    secrets.delete(id);
  });
});

describe("deliveries", () => {
  let all: string;
  let redirected: string;

  it("pings through the delivery path: signed, listed with its attempt", async () => {
    all = await subscribe(`${base}/hook`, ["*"], "everything");
    redirected = await subscribe(`${base}/redirect`, ["campaign.activated"]);
    const ping = await call(stack, "POST", `/webhooks/${all}/ping`, stack.admin);
    expect(ping.status).toBe(202);
    expect(ping.body).toMatchObject({ webhook_id: all, event_type: "webhook.ping", subject: `webhooks/${all}`, status: "pending" });
    const pingId = ping.body.delivery_id as string;
    expect(pingId).toMatch(/^msg_\d{17}_[0-9a-f]{16}$/);
    const got = await waitFor("the ping", async () => byId(pingId)[0]);
    expect(got.verifiedBy).toBe(all);
    expect(got.event).toMatchObject({ specversion: "1.0", type: "com.labelpipeline.webhook.ping", subject: `webhooks/${all}`, data: { webhook_id: all } });
    const listed = await waitFor("the ping delivered", async () => (await deliveries(all)).find((d) => d.delivery_id === pingId && d.status === "delivered"));
    expect(listed.attempts).toEqual([
      {
        attempt: 1,
        status: "done",
        date: expect.any(String),
        duration_ms: expect.any(Number),
        status_code: 200,
        error: null,
        response_body: "ok",
        next_retry: null,
      },
    ]);
  });

  it("announces each change of a whole flow exactly once, every message delivered twice, every request signed", async () => {
    // An image set: upload, finish, the copy job (twice) -> imageset.finished.
    const set = (await call(stack, "POST", "/image_sets", stack.admin, { title: `${stack.config.prefix}-hooks` })).body;
    for (const i of [1, 2, 3]) await uploadToDropbox(set.dropbox_url, `img-${i}.png`, await png(20, 10, i));
    expect((await call(stack, "PUT", `/image_sets/${set.imageset_id}`, stack.admin, { new_status: "finished" })).body).toBe("ok");
    await waitFor("the set finished", async () => (await call(stack, "GET", `/image_sets/${set.imageset_id}`, stack.admin)).body.status === "finished", 60_000);
    const images = (await call(stack, "GET", `/image_sets/${set.imageset_id}/images`, stack.admin)).body.images.map((i: any) => i.image_id as number);
    expect(images).toHaveLength(3);

    // A campaign: activate -> campaign.activated; the partner labels everything -> campaign.completed (answered 500 twice).
    const created = (await call(stack, "POST", "/campaigns", stack.admin, { title: "hooks", labeler_email: "hooks@example.com" })).body;
    const id = created.campaign_id as number;
    const partner = { "Authentication-Key": created.access_token.apikey, "Authentication-Secret": created.access_token.apisecret };
    expect(
      (
        await call(
          stack,
          "POST",
          `/campaigns/${id}/images`,
          stack.admin,
          images.map((i: number) => ({ id: i })),
        )
      ).body,
    ).toBe("ok");
    expect((await call(stack, "PUT", `/campaigns/${id}`, stack.admin, { new_status: "active" })).body).toBe("ok");
    const label = (imageId: number) => ({ image_id: imageId, objects: [{ label: "car", bounding_box: { xmin: 1, xmax: 5, ymin: 1, ymax: 5 } }] });
    expect((await call(stack, "PUT", `/campaigns/${id}/objects`, partner, images.map(label))).body).toBe("ok");
    expect((await call(stack, "GET", `/campaigns/${id}`, stack.admin)).body.status).toBe("completed");

    // Review: reject one -> image.rejected, and the campaign reopens -> campaign.activated; relabeled -> campaign.completed.
    const review = await call(stack, "PUT", `/campaigns/${id}/review`, stack.admin, { image_ids: [images[0]], decision: "reject", comment: "box too small" });
    expect(review.status, JSON.stringify(review.body)).toBe(200);
    // Rejecting it again changes nothing, and announces nothing.
    expect((await call(stack, "PUT", `/campaigns/${id}/review`, stack.admin, { image_ids: [images[0]], decision: "reject", comment: "still" })).status).toBe(
      200,
    );
    expect((await call(stack, "GET", `/campaigns/${id}`, stack.admin)).body.status).toBe("active");
    expect((await call(stack, "PUT", `/campaigns/${id}/objects`, partner, [label(images[0])])).body).toBe("ok");
    expect((await call(stack, "GET", `/campaigns/${id}`, stack.admin)).body.status).toBe("completed");

    // Finish (the job runs twice) -> campaign.finished; an export (twice) -> export.succeeded.
    expect((await call(stack, "PUT", `/campaigns/${id}`, stack.admin, { new_status: "finished" })).body).toBe("ok");
    await waitFor("finished", async () => (await call(stack, "GET", `/campaigns/${id}`, stack.admin)).body.status === "finished", 60_000);
    const exported = await call(stack, "POST", `/campaigns/${id}/exports`, stack.admin, { format: "csv", label_status: "all" });
    expect(exported.status).toBe(202);
    const exportId = exported.body.export_id as string;
    await waitFor("exported", async () => (await call(stack, "GET", `/exports/${exportId}`, stack.admin)).body.status === "succeeded", 60_000);

    // The lists over the partitions that held outbox rows still answer exactly their own rows.
    expect((await call(stack, "GET", `/campaigns/${id}/exports`, stack.admin)).body.exports.map((e: any) => e.export_id)).toEqual([exportId]);
    expect((await call(stack, "GET", `/campaigns/${id}/images`, stack.admin)).body.pagination.total).toBe(3);
    expect((await call(stack, "GET", `/image_sets`, stack.admin)).body.image_sets.map((s: any) => s.imageset_id)).toEqual([set.imageset_id]);
    expect((await call(stack, "GET", `/campaigns`, stack.admin)).body.campaigns.map((c: any) => c.campaign_id)).toEqual([id]);

    const expected = [
      ["imageset.finished", `image_sets/${set.imageset_id}`],
      ["campaign.activated", `campaigns/${id}`],
      ["campaign.completed", `campaigns/${id}`],
      ["image.rejected", `campaigns/${id}/images/${images[0]}`],
      ["campaign.activated", `campaigns/${id}`],
      ["campaign.completed", `campaigns/${id}`],
      ["campaign.finished", `campaigns/${id}`],
      ["export.succeeded", `exports/${exportId}`],
    ];
    const flow = () => eventsOf(all).filter((r) => r.event.type !== "com.labelpipeline.webhook.ping");
    await waitFor("every event delivered", async () => flow().length >= expected.length, 60_000);
    // The duplicates of every job and dispatch message have had time to land: still once each.
    await new Promise((r) => setTimeout(r, 3000));
    const events = flow();
    // Compared as sets of lines: two events of one request may share a millisecond, so their ids need not sort in order.
    const lines = (list: string[][]) => list.map(([type, subject]) => `${type} ${subject}`).sort();
    expect(lines(events.map((r) => [r.event.type.replace("com.labelpipeline.", ""), r.event.subject]))).toEqual(lines(expected));
    expect(new Set(events.map((r) => r.event.id)).size).toBe(expected.length);
    expect(new Set(events.map((r) => r.headers["webhook-id"])).size).toBe(expected.length);

    for (const r of received) {
      expect(r.verifiedBy, `signature of ${String(r.headers["webhook-id"])}`).toBeDefined();
      expect(r.headers["content-type"]).toBe("application/cloudevents+json; charset=utf-8");
      expect(r.event).toMatchObject({ specversion: "1.0", datacontenttype: "application/json", source: `/label-pipeline/${stack.config.prefix}` });
      expect(r.event.id).toMatch(/^evt_\d{17}_[0-9a-f]{12}$/);
      expect(Date.parse(r.event.time)).not.toBeNaN();
    }
    const data = (type: string) => events.find((r) => r.event.type === `com.labelpipeline.${type}`)!.event.data;
    expect(data("imageset.finished")).toMatchObject({ imageset_id: set.imageset_id, status: "finished", failure_reason: null });
    expect(data("imageset.finished")).not.toHaveProperty("dropbox_url");
    expect(data("campaign.activated")).toMatchObject({ campaign_id: id, title: "hooks", status: "active", previous_status: "created" });
    expect(data("image.rejected")).toMatchObject({ campaign_id: id, image_id: images[0], label_status: "rejected", review_comment: "box too small" });
    expect(data("campaign.finished")).toMatchObject({ campaign_id: id, status: "finished", date_finished: expect.any(String) });
    expect(data("export.succeeded")).toMatchObject({ export_id: exportId, campaign_id: id, format: "csv", status: "succeeded", counts: { images: 3 } });
    expect(data("export.succeeded")).not.toHaveProperty("download_url");
  });

  it("retries a 500 under the same webhook-id and shows each attempt", async () => {
    expect(failing).toBeDefined();
    const attempts = byId(failing!);
    expect(attempts.map((a) => a.answered)).toEqual([500, 500, 200]);
    expect(attempts.every((a) => a.body === attempts[0]!.body && a.verifiedBy === all)).toBe(true);
    const stamps = attempts.map((a) => Number(a.headers["webhook-timestamp"]));
    expect(stamps).toEqual([...stamps].sort((x, y) => x - y));
    const listed = (await deliveries(all)).find((d) => d.delivery_id === failing)!;
    expect(listed).toMatchObject({ status: "delivered", attempt_count: 3, event_type: "campaign.completed", next_attempt_at: null });
    expect(listed.attempts.map((a: any) => a.status_code)).toEqual([500, 500, 200]);
    expect(listed.attempts[0].response_body).toMatch(/^busy x+$/);
    expect(Buffer.byteLength(listed.attempts[0].response_body)).toBeLessThanOrEqual(1024);
    expect(listed.attempts[0].next_retry).toEqual(expect.any(String));
    expect(listed.attempts[2].next_retry).toBeNull();
  });

  it("does not follow a 302, and gives up visibly once the schedule is used up", async () => {
    const failed = await waitFor(
      "the redirected deliveries given up",
      async () => {
        const list = await deliveries(redirected);
        return list.length === 2 && list.every((d) => d.status === "failed") ? list : undefined;
      },
      30_000,
    );
    for (const delivery of failed) {
      expect(delivery.event_type).toBe("campaign.activated");
      // The first attempt and the three retries of the schedule.
      expect(delivery.attempts.map((a: any) => a.status_code)).toEqual([302, 302, 302, 302]);
      expect(delivery.attempts[3].error).toMatch(/redirects are not followed/);
      // The Location was never fetched with this delivery's id.
      expect(byId(delivery.delivery_id).every((r) => r.path === "/redirect")).toBe(true);
    }
  });

  it("redelivers a delivered or failed delivery with the same webhook-id, and refuses one still pending", async () => {
    // A delivery still pending (its receiver takes 2 s to answer) is not redelivered.
    const slow = await subscribe(`${base}/slow`, ["export.failed"]);
    const ping = await call(stack, "POST", `/webhooks/${slow}/ping`, stack.admin);
    const busy = await call(stack, "POST", `/webhooks/${slow}/deliveries/${ping.body.delivery_id}/redeliver`, stack.admin);
    expect(busy.status).toBe(409);
    expect(busy.body.detail).toMatch(/still pending/);
    await waitFor("the slow ping delivered", async () => (await deliveries(slow)).find((d) => d.status === "delivered"));

    const [delivery] = (await deliveries(all)).filter((d) => d.event_type === "export.succeeded");
    const before = byId(delivery.delivery_id).length;
    const again = await call(stack, "POST", `/webhooks/${all}/deliveries/${delivery.delivery_id}/redeliver`, stack.admin);
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({
      delivery_id: delivery.delivery_id,
      status: "pending",
      attempts: [expect.objectContaining({ attempt: 1, status_code: 200 })],
    });
    await waitFor("redelivered", async () => byId(delivery.delivery_id).length > before);
    const resent = byId(delivery.delivery_id).at(-1)!;
    expect(resent.body).toBe(byId(delivery.delivery_id)[0]!.body);
    expect(resent.verifiedBy).toBe(all);
    const listed = await waitFor("listed", async () => (await deliveries(all)).find((d) => d.delivery_id === delivery.delivery_id && d.status === "delivered"));
    expect(listed.attempt_count).toBe(2);
    expect(listed.attempts.map((a: any) => a.status_code)).toEqual([200, 200]);
    for (const path of [`/webhooks/${all}/deliveries/msg_00000000000000000_0000000000000000/redeliver`, `/webhooks/${all}/deliveries/nope/redeliver`]) {
      expect((await call(stack, "POST", path, stack.admin)).status, path).toBe(404);
    }
    // A disabled subscription gets no new events.
    expect((await call(stack, "PATCH", `/webhooks/${all}`, stack.admin, { enabled: false })).status).toBe(200);
    const count = (await deliveries(all)).length;
    const set = await call(stack, "POST", "/image_sets", stack.admin, { title: `${stack.config.prefix}-quiet` });
    expect((await call(stack, "PUT", `/image_sets/${set.body.imageset_id}`, stack.admin, { new_status: "finished" })).body).toBe("ok");
    await waitFor("finished", async () => (await call(stack, "GET", `/image_sets/${set.body.imageset_id}`, stack.admin)).body.status === "finished", 60_000);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await deliveries(all)).length).toBe(count);
  });
});

describe("private targets with the setting off (as in Azure)", () => {
  let strict: TestStack;
  beforeAll(async () => {
    strict = await startTestStack({ settings: { WEBHOOK_RETRY_SCHEDULE: "" } });
  }, 60_000);
  afterAll(async () => strict?.stop());

  it("refuses them at subscription and, for a name resolving to one, at delivery without connecting", async () => {
    const port = (receiver.address() as AddressInfo).port;
    for (const url of [
      `http://127.0.0.1:${port}/hook`,
      `https://127.0.0.1:${port}/hook`,
      `https://[::1]:${port}/hook`,
      `https://[::ffff:127.0.0.1]:${port}/hook`,
      "https://169.254.169.254/metadata",
      "https://10.1.2.3/",
      `https://localhost:${port}/hook`,
    ]) {
      const answer = await call(strict, "POST", "/webhooks", strict.admin, { url, events: ["*"] });
      expect(answer.status, url).toBe(422);
      expect(answer.body.detail, url).toMatch(/https|non-public|localhost/);
    }
    // A name is only known at delivery time: this machine's own name, when it resolves to a private or loopback address.
    const name = hostname();
    const addresses = await lookup(name, { all: true }).catch(() => []);
    if (!addresses.length || addresses.some((a) => addressProblem(a.address) === null)) {
      console.warn(`skipped the delivery-time check: ${name} does not resolve to private addresses only`);
      return;
    }
    const created = await call(strict, "POST", "/webhooks", strict.admin, { url: `https://${name}:${port}/hook`, events: ["*"] });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const before = received.length;
    const ping = await call(strict, "POST", `/webhooks/${created.body.webhook_id}/ping`, strict.admin);
    expect(ping.status).toBe(202);
    const failed = await waitFor("the ping refused", async () => {
      const list = (await call(strict, "GET", `/webhooks/${created.body.webhook_id}/deliveries`, strict.admin)).body.deliveries as any[];
      return list.find((d) => d.status === "failed");
    });
    expect(failed.attempts).toHaveLength(1);
    expect(failed.attempts[0]).toMatchObject({ status_code: null, error: expect.stringMatching(/^refused: .* resolves to a non-public address/) });
    expect(received.length).toBe(before);
  });
});
