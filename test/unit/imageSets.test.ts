/**
 * Image set rules (shared/app/imageSets.ts, shared/domain/imageSets.ts) on Azurite: finishing is asked
 * for only from created or failed, queues exactly one copy job (read back from the real Storage queue),
 * and is undone when the job cannot be queued; a create request with a bad title or metadata is refused
 * before anything is written (no record, no dropbox container).
 */
import type { QueueClient } from "@azure/storage-queue";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handler as createImageSetHandler } from "../../functions/createImageSet.js";
import type { Principal } from "../../shared/auth.js";
import type { AppConfig } from "../../shared/config.js";
import { createImageSet, changeImageSetStatus } from "../../shared/app/imageSets.js";
import { dropboxContainer, type ImageSetStatus } from "../../shared/domain/imageSets.js";
import { LIMITS } from "../../shared/domain/inputRules.js";
import { ApiError } from "../../shared/errors.js";
import type { InvocationLike } from "../../shared/http/endpoint.js";
import type { RequestLike } from "../../shared/http/request.js";
import { failImageSetCopy } from "../../shared/jobs/imageSetCopy.js";
import type { JobSender } from "../../shared/queue/messages.js";
import { decodeEnvelope } from "../../shared/queue/storageQueue.js";
import { createServices, setServices, type Services } from "../../shared/services.js";
import { provisionStorage } from "../../shared/storage/provision.js";
import { testConfig } from "../support/env.js";
import { diffSnapshots, takeStorageSnapshot } from "../support/storageSnapshot.js";

let config: AppConfig;
let services: Services;
let copyQueue: QueueClient;
const admin: Principal = { apikey: "test-admin-key", role: "image-admin", email: "admin@test.example" };

beforeAll(async () => {
  config = testConfig();
  services = createServices(config);
  await provisionStorage(config, services.clients, { queues: true });
  copyQueue = services.clients.queueService.getQueueClient(config.queue("imageset-copy"));
  // The create route authenticates: the admin user the local host creates.
  await services.users.putUser(admin.apikey, "test-admin-secret", "image-admin", admin.email);
  setServices(services);
});
afterAll(() => setServices(undefined));

/** Titles start with the run's prefix, so storage snapshots see their dropbox containers. */
let titles = 0;
const freshTitle = () => `${config.prefix}-set-${++titles}`;

/** The copy jobs queued for one set, read from the real queue (messages stay: peeking does not take them). */
async function copyJobsFor(imagesetId: number): Promise<unknown[]> {
  const peeked = await copyQueue.peekMessages({ numberOfMessages: 32 });
  return peeked.peekedMessageItems
    .map((m) => decodeEnvelope(m.messageText))
    .filter((e) => e.type === "imageset-copy" && (e.body as { imagesetId?: number }).imagesetId === imagesetId)
    .map((e) => e.body);
}

async function setIn(status: "created" | "processing" | "failed" | "finished"): Promise<number> {
  const { imagesetId } = await createImageSet(services, admin, freshTitle(), null);
  if (status === "created") return imagesetId;
  // Processing the way a finish request leaves it; then failed or finished the way the copy job leaves it.
  await changeImageSetStatus(services, imagesetId, "finished");
  await copyQueue.clearMessages();
  if (status === "failed") await failImageSetCopy(services, imagesetId, "the dropbox held nothing");
  if (status === "finished") await services.imageSets.update(imagesetId, () => ({ status: "finished", dateFinished: "2024-01-01T00:00:00.000000Z" }));
  expect((await services.imageSets.get(imagesetId))!.status).toBe(status);
  return imagesetId;
}

async function refusal(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, "the call must be refused").toBeInstanceOf(ApiError);
  return error as ApiError;
}

/** A queue that refuses every message: the transport failing, injected; storage stays the real Azurite. */
const refusingQueue: JobSender = {
  send: async () => {
    throw new Error("injected: the queue refused the message");
  },
  close: async () => {},
};

describe("finishing an image set", () => {
  it("moves a created set to processing and queues exactly one copy job for it", async () => {
    const id = await setIn("created");
    await changeImageSetStatus(services, id, "finished");
    expect(await services.imageSets.get(id)).toMatchObject({ status: "processing", failureReason: null, dateFinished: null });
    expect(await copyJobsFor(id)).toEqual([{ imagesetId: id }]);

    // Asking again while it is processing is a conflict naming the status, and queues nothing more.
    const again = await refusal(changeImageSetStatus(services, id, "finished"));
    expect(again.status).toBe(409);
    expect(again.detail).toContain(`image set ${id} is processing`);
    expect(await copyJobsFor(id)).toHaveLength(1);
    expect((await services.imageSets.get(id))!.status).toBe("processing");
  });

  it("finishes a failed set again (clearing its failure reason), with one copy job", async () => {
    const id = await setIn("failed");
    expect((await services.imageSets.get(id))!.failureReason).toBe("the dropbox held nothing");
    await changeImageSetStatus(services, id, "finished");
    expect(await services.imageSets.get(id)).toMatchObject({ status: "processing", failureReason: null });
    expect(await copyJobsFor(id)).toEqual([{ imagesetId: id }]);
  });

  it.each(["processing", "finished"] as const)("refuses to finish a %s set with a 409 naming its status, changing and queueing nothing", async (status) => {
    const id = await setIn(status);
    const before = await services.imageSets.get(id);
    const error = await refusal(changeImageSetStatus(services, id, "finished"));
    expect(error.status).toBe(409);
    expect(error.detail).toContain(`is ${status}`);
    expect(error.detail).toMatch(/only a created \(or failed\) set can be finished/);
    expect(await services.imageSets.get(id)).toEqual(before);
    expect(await copyJobsFor(id)).toEqual([]);
  });

  it.each(["created", "processing", "failed"] as const)("refuses a request for %s (only finished may be asked for)", async (to: ImageSetStatus) => {
    const id = await setIn("created");
    const before = await services.imageSets.get(id);
    const error = await refusal(changeImageSetStatus(services, id, to));
    expect(error.status).toBe(409);
    expect(error.detail).toContain(`it cannot become ${to}`);
    expect(await services.imageSets.get(id)).toEqual(before);
    expect(await copyJobsFor(id)).toEqual([]);
  });

  it("answers 404 for a set that does not exist", async () => {
    const error = await refusal(changeImageSetStatus(services, 9_999, "finished"));
    expect(error.status).toBe(404);
    expect(await copyJobsFor(9_999)).toEqual([]);
  });

  it("undoes the status change when the copy job cannot be queued, and can be finished afterwards", async () => {
    const id = await setIn("created");
    const before = await services.imageSets.get(id);
    const refusing = createServices(config, { queue: refusingQueue });
    const error = await refusal(changeImageSetStatus(refusing, id, "finished"));
    expect(error.status).toBe(503);
    expect(error.detail).toMatch(/could not queue the copy job .*injected: the queue refused/);
    const after = await services.imageSets.get(id);
    expect(after!.status).toBe("created");
    expect({ ...after, etag: "" }).toEqual({ ...before, etag: "" });
    expect(await copyJobsFor(id)).toEqual([]);

    // Nothing is left half-done: the next request finishes it normally.
    await changeImageSetStatus(services, id, "finished");
    expect((await services.imageSets.get(id))!.status).toBe("processing");
    expect(await copyJobsFor(id)).toEqual([{ imagesetId: id }]);
  });

  it("puts a failed set back to failed, with its reason, when the copy job cannot be queued", async () => {
    const id = await setIn("failed");
    const before = await services.imageSets.get(id);
    const error = await refusal(changeImageSetStatus(createServices(config, { queue: refusingQueue }), id, "finished"));
    expect(error.status).toBe(503);
    const after = await services.imageSets.get(id);
    expect(after).toMatchObject({ status: "failed", failureReason: "the dropbox held nothing" });
    expect({ ...after, etag: "" }).toEqual({ ...before, etag: "" });
    expect(await copyJobsFor(id)).toEqual([]);
  });
});

/** `POST /v1/image_sets` through its real handler (auth, body schema, then createImageSet). */
async function postImageSet(body: unknown): Promise<{ status: number; body: any }> {
  const request: RequestLike = {
    method: "POST",
    url: "http://127.0.0.1/api/v1/image_sets",
    headers: new Headers({ "Authentication-Key": admin.apikey, "Authentication-Secret": "test-admin-secret", "Content-Type": "application/json" }),
    query: new URLSearchParams(),
    params: {},
    text: async () => JSON.stringify(body),
  };
  const errors: unknown[] = [];
  const context: InvocationLike = { invocationId: "test", log: () => {}, error: (...args) => errors.push(args) };
  const response = await createImageSetHandler(request, context);
  expect(errors, "no unexpected failure").toEqual([]);
  return { status: response.status, body: response.jsonBody };
}

const containerExists = (title: string) => services.clients.blobService.getContainerClient(dropboxContainer(title)).exists();

describe("creating an image set refuses bad input before any write", () => {
  /** Asserts the run's storage (prefixed tables, containers and dropboxes) is exactly as it was. */
  async function expectNothingWritten(attempt: () => Promise<void>) {
    const before = await takeStorageSnapshot(config, services.clients);
    await attempt();
    expect(diffSnapshots(before, await takeStorageSnapshot(config, services.clients))).toEqual([]);
  }

  it("creates the record and dropbox for good input (so the checks below would see a write)", async () => {
    const title = freshTitle();
    const before = await takeStorageSnapshot(config, services.clients);
    const created = await postImageSet({ title, metadata: { camera: "x" } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ title, status: "created", metadata: { camera: "x" } });
    const changes = diffSnapshots(before, await takeStorageSnapshot(config, services.clients));
    expect(changes.some((line) => line.startsWith(`+ blob ${dropboxContainer(title)}/`))).toBe(true);
    expect(changes.some((line) => line.startsWith("+ entity") && line.includes(title))).toBe(true);
  });

  const badTitles: Array<[string, (prefix: string) => string, RegExp]> = [
    ["uppercase", (p) => `${p}-Upper`, /lowercase/],
    ["underscore", (p) => `${p}_x`, /lowercase/],
    ["two hyphens", (p) => `${p}--x`, /two hyphens/],
    ["a trailing hyphen", (p) => `${p}-`, /start and end/],
    ["too long", (p) => `${p}-${"a".repeat(60)}`, /1 to 55/],
  ];

  it.each(badTitles)("refuses a title with %s (422) and writes nothing", async (_, make, why) => {
    const title = make(config.prefix);
    await expectNothingWritten(async () => {
      const error = await refusal(createImageSet(services, admin, title, null));
      expect(error.status).toBe(422);
      expect(error.detail).toMatch(why);
      const response = await postImageSet({ title });
      expect(response.status).toBe(422);
      expect(response.body.detail).toMatch(why);
    });
    expect(await services.imageSets.findIdByTitle(title)).toBeUndefined();
  });

  const deep = (levels: number): Record<string, unknown> => {
    let value: Record<string, unknown> = { leaf: 1 };
    for (let i = 1; i < levels; i++) value = { n: value };
    return value;
  };

  it.each([
    ["nested deeper than the limit", deep(LIMITS.jsonFieldDepth + 1), /metadata nests deeper than 20 levels/],
    ["larger than the limit", { blob: "x".repeat(LIMITS.jsonFieldBytes) }, /metadata is \d+ bytes of JSON; at most 16384/],
    ["not an object", ["a", "b"], /metadata/],
  ])("refuses metadata %s (422) for a valid title, writing no record and no container", async (_, metadata, why) => {
    const title = freshTitle();
    await expectNothingWritten(async () => {
      const response = await postImageSet({ title, metadata });
      expect(response.status).toBe(422);
      expect(response.body.detail).toMatch(why);
    });
    expect(await services.imageSets.findIdByTitle(title)).toBeUndefined();
    expect(await containerExists(title)).toBe(false);
  });

  it("accepts metadata at the depth limit", async () => {
    const response = await postImageSet({ title: freshTitle(), metadata: deep(LIMITS.jsonFieldDepth) });
    expect(response.status).toBe(201);
  });

  it("refuses a taken title (409) without touching the existing set or creating anything", async () => {
    const title = freshTitle();
    const first = await createImageSet(services, admin, title, { v: 1 });
    await expectNothingWritten(async () => {
      const error = await refusal(createImageSet(services, admin, title, { v: 2 }));
      expect(error.status).toBe(409);
      expect(error.detail).toContain("exists already");
    });
    expect((await services.imageSets.get(first.imagesetId))!.metadata).toEqual({ v: 1 });
  });
});
