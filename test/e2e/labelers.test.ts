/**
 * Labeler keys over real HTTP through the local host: the list, secret rotation (by the admin and by the
 * labeler itself), revocation and restoring, `expires_at`, taking a campaign out of a key's scope, and the
 * last-used time. Each change is checked on the very next request.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordImages } from "../support/seed.js";
import { call, startTestStack, type TestStack } from "../support/stack.js";

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => stack?.stop());

interface Partner {
  apikey: string;
  headers: Record<string, string>;
}
const as = (apikey: string, secret: string): Partner => ({ apikey, headers: { "Authentication-Key": apikey, "Authentication-Secret": secret } });

async function campaign(title: string, email: string, imageIds: number[]) {
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
  return { id, token: created.body.access_token as { apikey: string; apisecret: string | null } };
}

const listed = async (apikey: string) => {
  const r = await call(stack, "GET", "/labelers?per_page=1000", stack.admin);
  expect(r.status).toBe(200);
  return (r.body.labelers as Array<Record<string, any>>).find((l) => l.apikey === apikey);
};

describe("labeler keys", () => {
  let images: number[];
  let a: Partner;
  let b: Partner;
  let campaignA1: number;
  let campaignA2: number;
  let campaignB: number;
  const adminKey = () => stack.admin["Authentication-Key"]!;

  beforeAll(async () => {
    images = await recordImages(stack.host.services, "labelers", 6);
    const a1 = await campaign("labelers-a1", "keys-a@example.com", images.slice(0, 2));
    const a2 = await campaign("labelers-a2", "keys-a@example.com", images.slice(2, 4));
    const bc = await campaign("labelers-b", "keys-b@example.com", images.slice(4, 6));
    expect(a2.token).toEqual({ apikey: a1.token.apikey, apisecret: null });
    a = as(a1.token.apikey, a1.token.apisecret!);
    b = as(bc.token.apikey, bc.token.apisecret!);
    [campaignA1, campaignA2, campaignB] = [a1.id, a2.id, bc.id];
  });

  it("lists labelers, paged, with their scope, creation, last use and state; only for admins", async () => {
    const before = Date.now();
    // A request that is answered records the last use; a refused one (403) does not.
    expect((await call(stack, "GET", "/me", a.headers)).status).toBe(200);
    expect((await call(stack, "GET", "/campaigns", b.headers)).status).toBe(403);
    const page = await call(stack, "GET", "/labelers", stack.admin);
    expect(page.status).toBe(200);
    expect(page.body.pagination).toMatchObject({ page: 1, per_page: 10, total: 2, pages: 1, next: null, prev: null });
    expect(page.body.labelers).toEqual([
      {
        apikey: a.apikey,
        email: "keys-a@example.com",
        campaigns: [campaignA1, campaignA2],
        date_created: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/),
        last_used: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/),
        revoked: null,
        expires_at: null,
        status: "active",
      },
      expect.objectContaining({ apikey: b.apikey, email: "keys-b@example.com", campaigns: [campaignB], last_used: null, status: "active" }),
    ]);
    expect(Date.parse(page.body.labelers[0].last_used)).toBeGreaterThanOrEqual(before - 1000);
    const second = await call(stack, "GET", "/labelers?page=2&per_page=1", stack.admin);
    expect(second.body.labelers.map((l: { apikey: string }) => l.apikey)).toEqual([b.apikey]);
    expect(second.body.pagination).toMatchObject({ page: 2, pages: 2, total: 2, prev: 1, next: null });
    expect((await call(stack, "GET", "/labelers", a.headers)).status).toBe(403);
    expect((await call(stack, "GET", "/labelers?per_page=1001", stack.admin)).status).toBe(422);
    // Within the minute the last use is not written again.
    const lastUsed = (await listed(a.apikey))!.last_used;
    expect((await call(stack, "GET", "/me", a.headers)).status).toBe(200);
    expect((await listed(a.apikey))!.last_used).toBe(lastUsed);
  });

  it("rotates a secret: answered once, the old one fails on the next call, the new one works; by the admin or the labeler itself", async () => {
    const rotated = await call(stack, "POST", `/labelers/${a.apikey}/secret`, stack.admin);
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
    expect(rotated.body).toEqual({ apikey: a.apikey, apisecret: expect.stringMatching(/^[0-9a-f]{32}$/) });
    const old = a;
    a = as(a.apikey, rotated.body.apisecret);
    expect((await call(stack, "GET", "/me", old.headers)).status).toBe(401);
    expect((await call(stack, "GET", `/campaigns/${campaignA1}/images`, old.headers)).status).toBe(401);
    expect((await call(stack, "GET", `/campaigns/${campaignA1}/images`, a.headers)).status).toBe(200);

    // The labeler rotates its own secret.
    const own = await call(stack, "POST", `/labelers/${b.apikey}/secret`, b.headers);
    expect(own.status).toBe(200);
    const oldB = b;
    b = as(b.apikey, own.body.apisecret);
    expect((await call(stack, "GET", "/me", oldB.headers)).status).toBe(401);
    expect((await call(stack, "GET", "/me", b.headers)).body).toMatchObject({ apikey: b.apikey, role: "labeler" });

    // Another key, an admin's, an unknown one: 404 for a labeler, whether the key exists or not.
    for (const key of [a.apikey, adminKey(), "0123456789abcdef0123456789abcdef"]) {
      const r = await call(stack, "POST", `/labelers/${key}/secret`, b.headers);
      expect(r.status, key).toBe(404);
      expect(r.body.detail).toBe("no labeler has this key");
    }
    expect((await call(stack, "GET", "/me", a.headers)).status).toBe(200);
    expect((await call(stack, "POST", `/labelers/0123456789abcdef0123456789abcdef/secret`, stack.admin)).status).toBe(404);
    const adminRotation = await call(stack, "POST", `/labelers/${adminKey()}/secret`, stack.admin);
    expect(adminRotation.status).toBe(409);
    expect(adminRotation.body.detail).toMatch(/image-admin key/);
  });

  it("revokes a key: 401 on the next call everywhere, listed as revoked, not revived by a new campaign, restored on request", async () => {
    const revoked = await call(stack, "DELETE", `/labelers/${b.apikey}`, stack.admin);
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ apikey: b.apikey, status: "revoked", revoked: expect.stringMatching(/Z$/), campaigns: [campaignB] });
    for (const [method, path] of [
      ["GET", "/me"],
      ["GET", `/campaigns/${campaignB}/images`],
      ["GET", `/images/${images[4]}`],
      ["GET", `/labelers/${b.apikey}/stats`],
      ["POST", `/labelers/${b.apikey}/secret`],
    ] as const) {
      const r = await call(stack, method, path, b.headers);
      expect(r.status, `${method} ${path}`).toBe(401);
      expect(r.body.detail).toMatch(/revoked/);
    }
    // Revoking again keeps the first time.
    expect((await call(stack, "DELETE", `/labelers/${b.apikey}`, stack.admin)).body.revoked).toBe(revoked.body.revoked);
    expect(await listed(b.apikey)).toMatchObject({ status: "revoked", revoked: revoked.body.revoked });
    // A new campaign for the same address does not revive it: 409, and nothing is created.
    const again = await call(stack, "POST", "/campaigns", stack.admin, { title: "labelers-b2", labeler_email: "keys-b@example.com" });
    expect(again.status).toBe(409);
    expect(again.body.detail).toMatch(/revoked.*PATCH \/labelers/);
    expect((await call(stack, "GET", "/campaigns?per_page=100", stack.admin)).body.campaigns.map((c: { title: string }) => c.title)).not.toContain(
      "labelers-b2",
    );
    // Restored explicitly, it works again, and a new campaign widens its scope.
    const restored = await call(stack, "PATCH", `/labelers/${b.apikey}`, stack.admin, { revoked: false });
    expect(restored.body).toMatchObject({ status: "active", revoked: null });
    expect((await call(stack, "GET", "/me", b.headers)).status).toBe(200);
    const b2 = await call(stack, "POST", "/campaigns", stack.admin, { title: "labelers-b2", labeler_email: "keys-b@example.com" });
    expect(b2.body.access_token).toEqual({ apikey: b.apikey, apisecret: null });
    // Admin keys are not revocable here.
    const adminRevoke = await call(stack, "DELETE", `/labelers/${adminKey()}`, stack.admin);
    expect(adminRevoke.status).toBe(409);
    expect((await call(stack, "GET", "/labelers", stack.admin)).status).toBe(200);
    expect((await call(stack, "DELETE", `/labelers/${a.apikey}`, b.headers)).status).toBe(403);
  });

  it("expires a key at expires_at: one in the past is 401 at once; null or a later time restores it", async () => {
    const invalid = await call(stack, "PATCH", `/labelers/${a.apikey}`, stack.admin, { expires_at: "2027-02-30T00:00:00Z" });
    expect(invalid.status).toBe(422);
    expect(invalid.body.detail).toMatch(/expires_at/);
    expect((await call(stack, "PATCH", `/labelers/${a.apikey}`, stack.admin, {})).status).toBe(422);
    const later = new Date(Date.now() + 3_600_000).toISOString();
    expect((await call(stack, "PATCH", `/labelers/${a.apikey}`, stack.admin, { expires_at: later })).body.expires_at).toBe(later.replace(/Z$/, "000Z"));
    expect((await call(stack, "GET", "/me", a.headers)).status).toBe(200);
    const past = await call(stack, "PATCH", `/labelers/${a.apikey}`, stack.admin, { expires_at: "2020-01-01T00:00:00+01:00" });
    expect(past.body).toMatchObject({ status: "expired", expires_at: "2019-12-31T23:00:00.000000Z" });
    const refused = await call(stack, "GET", `/campaigns/${campaignA1}/images`, a.headers);
    expect(refused.status).toBe(401);
    expect(refused.body.detail).toMatch(/expired/);
    expect((await call(stack, "POST", "/campaigns", stack.admin, { title: "labelers-a3", labeler_email: "keys-a@example.com" })).status).toBe(409);
    expect((await call(stack, "PATCH", `/labelers/${a.apikey}`, stack.admin, { expires_at: null })).body).toMatchObject({ status: "active", expires_at: null });
    expect((await call(stack, "GET", `/campaigns/${campaignA1}/images`, a.headers)).status).toBe(200);
  });

  it("takes one campaign out of a key's scope: refused exactly as a campaign never in scope; the other still works", async () => {
    const removed = await call(stack, "DELETE", `/labelers/${a.apikey}/campaigns/${campaignA1}`, stack.admin);
    expect(removed.status).toBe(200);
    expect(removed.body.campaigns).toEqual([campaignA2]);
    const label = (imageId: number) => [{ image_id: imageId, objects: [] }];
    // The same routes on the removed campaign and on one the key never had answer alike.
    const [removedImage, neverImage] = [images[0]!, images[4]!];
    for (const [method, path, body] of [
      ["GET", (c: number) => `/campaigns/${c}/images`, undefined],
      ["GET", (c: number) => `/campaigns/${c}/rejected`, undefined],
      ["GET", (c: number) => `/campaigns/${c}/stats`, undefined],
      ["PUT", (c: number) => `/campaigns/${c}/objects`, (i: number) => label(i)],
    ] as const) {
      const gone = await call(stack, method, path(campaignA1), a.headers, body?.(removedImage));
      const never = await call(stack, method, path(campaignB), a.headers, body?.(neverImage));
      expect(gone.status, `${method} ${path(campaignA1)}`).toBe(never.status);
      expect(gone.status).toBe(404);
    }
    for (const suffix of ["", "/thumbnail?redirect=false"]) {
      const gone = await call(stack, "GET", `/images/${removedImage}${suffix}`, a.headers);
      expect(gone.status, `/images/{id}${suffix}`).toBe((await call(stack, "GET", `/images/${neverImage}${suffix}`, a.headers)).status);
      expect(gone.status).toBe(404);
    }
    expect((await call(stack, "GET", "/me", a.headers)).body.campaigns.map((c: { campaign_id: number }) => c.campaign_id)).toEqual([campaignA2]);
    expect((await call(stack, "GET", `/campaigns/${campaignA2}/images`, a.headers)).status).toBe(200);
    expect((await call(stack, "PUT", `/campaigns/${campaignA2}/objects`, a.headers, label(images[2]!))).status).toBe(200);
    expect((await call(stack, "GET", `/images/${images[2]}`, a.headers)).status).toBe(303);
    expect((await listed(a.apikey))!.campaigns).toEqual([campaignA2]);
    // Again: still out (idempotent); an unknown campaign or key is a 404; partners may not do it.
    expect((await call(stack, "DELETE", `/labelers/${a.apikey}/campaigns/${campaignA1}`, stack.admin)).body.campaigns).toEqual([campaignA2]);
    expect((await call(stack, "DELETE", `/labelers/${a.apikey}/campaigns/999999`, stack.admin)).status).toBe(404);
    expect((await call(stack, "DELETE", `/labelers/nope/campaigns/${campaignA2}`, stack.admin)).status).toBe(404);
    expect((await call(stack, "DELETE", `/labelers/${a.apikey}/campaigns/${campaignA2}`, a.headers)).status).toBe(403);
    // The labeler's statistics now cover only what is in its scope.
    expect((await call(stack, "GET", `/labelers/${a.apikey}/stats`, a.headers)).body).toMatchObject({ campaigns: [campaignA2], images: 2, submissions: 1 });
  });
});
