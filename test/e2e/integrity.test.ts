/**
 * Integrity under hostile input, over real HTTP against Azurite: dropbox names that try to escape, late
 * uploads, batches that fail half-way, refused requests that must leave no trace, partners after finish.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordImages } from "../support/seed.js";
import { odata, type TableClient } from "@azure/data-tables";
import { BlobServiceClient } from "@azure/storage-blob";
import { errorMessage } from "../../shared/errors.js";
import { runCampaignSubmission } from "../../shared/jobs/campaignSubmission.js";
import { failImageSetCopy, runImageSetCopy } from "../../shared/jobs/imageSetCopy.js";
import { jobLog } from "../../shared/jobs/runtime.js";
import { CampaignStore } from "../../shared/repos/campaigns.js";
import { BatchAbortedError, LabelBatchStore, newLabelBatch } from "../../shared/repos/labelBatches.js";
import { mapLimit } from "../../shared/util/concurrency.js";
import { png } from "../support/images.js";
import { call, startTestStack, uploadToDropbox, waitFor, type TestStack } from "../support/stack.js";
import { blobSnapshot, countRequests, rawUpload, tableSnapshot } from "../support/storageProbe.js";

let stack: TestStack;
const quiet = jobLog(() => {}, {});
const CONTRACT_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

beforeAll(async () => {
  // Two copies at a time: slow enough that the late-upload test can upload while the job runs.
  stack = await startTestStack({ settings: { COPY_CONCURRENCY: "2" } });
});
afterAll(async () => stack?.stop());

async function createSet(title: string) {
  const created = await call(stack, "POST", "/image_sets", stack.admin, { title });
  expect(created.status).toBe(201);
  return { id: created.body.imageset_id as number, dropbox: created.body.dropbox_url as string };
}

async function finishSet(id: number) {
  expect((await call(stack, "PUT", `/image_sets/${id}`, stack.admin, { new_status: "finished" })).body).toBe("ok");
  return waitFor(
    `set ${id} done`,
    async () => {
      const set = (await call(stack, "GET", `/image_sets/${id}`, stack.admin)).body;
      return set.status === "finished" || set.status === "failed" ? set : undefined;
    },
    60_000,
  );
}

async function storedBytes(path: string): Promise<Buffer> {
  return stack.host.services.clients.blobService.getContainerClient(stack.config.imageContainer).getBlobClient(path).downloadToBuffer();
}

const seedImages = (title: string, count: number) => recordImages(stack.host.services, title, count);

async function activeCampaign(title: string, email: string, imageIds: number[]) {
  const created = await call(stack, "POST", "/campaigns", stack.admin, { title, labeler_email: email });
  expect(created.status).toBe(201);
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
  const token = created.body.access_token;
  return { id, partner: { "Authentication-Key": token.apikey, "Authentication-Secret": token.apisecret ?? "" } };
}

const box = { xmin: 1, xmax: 10, ymin: 1, ymax: 10 };

describe("dropbox names from outside", () => {
  it("copies nothing whose name could escape the set's folder, lists each in rejected_files, and still finishes", async () => {
    const victim = await createSet("victim");
    const original = await png(20, 20, 1);
    await uploadToDropbox(victim.dropbox, "x.png", original);
    expect((await finishSet(victim.id)).status).toBe("finished");

    const attack = await createSet("attack");
    const forged = await png(30, 30, 2);
    const rawNames = [
      `%2E%2E/${stack.config.imageContainer}/uploads/victim/x.png`, // climbs to another container
      "p/%2E%2E/inner.png",
      "a/%2E/b.png",
      // (A backslash never arrives: the emulator turns it into '/'. The rule itself is unit-tested.)
      "ctl%7Fchar.png", // DEL; a C0 character such as U+0001 stops the emulator listing the container at all (below)
      `${"n".repeat(600)}.png`,
      "%252E%252E/literal.png", // the name `%2E%2E/literal.png`: looks encoded, is not decoded
      "ok/fine.png",
    ];
    for (const name of rawNames) expect(await rawUpload(attack.dropbox, name, forged), name).toBe(201);
    const landed: string[] = [];
    for await (const blob of stack.host.services.clients.blobService.getContainerClient("dropbox-attack").listBlobsFlat()) landed.push(blob.name);
    // The emulator decodes the escapes: the `..` names really are in the dropbox.
    expect(landed.some((name) => name.split("/").includes(".."))).toBe(true);

    const before = await blobSnapshot(stack.host.services, stack.config);
    const set = await finishSet(attack.id);
    expect(set.status).toBe("finished");
    expect(set.failure_reason).toBeNull();
    expect(set.image_count).toBe(1);
    const rejected = new Map<string, string>(set.rejected_files.map((f: { name: string; reason: string }) => [f.name, f.reason]));
    expect([...rejected.keys()].sort()).toEqual(landed.filter((n) => n !== "ok/fine.png").sort());
    for (const [name, reason] of rejected) expect(reason, name).toMatch(/^not copied: the name /);
    expect(rejected.get(landed.find((n) => n.startsWith(".."))!)).toMatch(/'\.\.' segment/);
    expect(rejected.get("%2E%2E/literal.png")).toMatch(/percent-escape %2E/);
    expect(rejected.get(`${"n".repeat(600)}.png`)).toMatch(/longer than 512/);

    // The victim's image is untouched, and the only new blob is the one valid upload, inside the set's folder.
    expect((await storedBytes("uploads/victim/x.png")).equals(original)).toBe(true);
    const after = await blobSnapshot(stack.host.services, stack.config);
    const added = after.filter((name) => !before.includes(name));
    expect(added).toEqual([`${stack.config.imageContainer}/uploads/attack/ok/fine.png`]);
    expect(before.filter((name) => !after.includes(name)).every((name) => name.startsWith("dropbox-attack/"))).toBe(true);
  });

  it("never ends a set failed without saying why, even when the dropbox cannot be listed", async () => {
    const set = await createSet("unlistable");
    expect(await rawUpload(set.dropbox, "ctl%01char.png", await png(4, 4))).toBe(201);
    // The job as its last delivery runs it, on clients that do not retry (the emulator answers 500 every time).
    const services = {
      ...stack.host.services,
      clients: {
        ...stack.host.services.clients,
        blobService: BlobServiceClient.fromConnectionString(stack.config.settings.STORAGE_CONNECTION_STRING!, { retryOptions: { maxTries: 1 } }),
      },
    };
    await stack.host.services.imageSets.update(set.id, () => ({ status: "processing" }));
    const failure = await runImageSetCopy(services, set.id, quiet).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(Error);
    await failImageSetCopy(services, set.id, errorMessage(failure));
    const done = (await call(stack, "GET", `/image_sets/${set.id}`, stack.admin)).body;
    expect(done.status).toBe("failed");
    expect(done.failure_reason).toMatch(/could not be listed .*control character/);
    // Even an error without a message leaves a reason.
    await stack.host.services.imageSets.update(set.id, () => ({ status: "processing" }));
    await failImageSetCopy(services, set.id, errorMessage(Object.assign(new Error(""), { name: "RestError", statusCode: 500 })));
    expect((await call(stack, "GET", `/image_sets/${set.id}`, stack.admin)).body.failure_reason).toBe("RestError, status 500");
  });

  it("records or lists every upload that lands while the set is processing; a replaced upload keeps its first version", async () => {
    const set = await createSet("late-uploads");
    const first = await Promise.all(Array.from({ length: 120 }, (_, i) => png(8 + (i % 5), 8, i)));
    await mapLimit(first, 16, (bytes, i) => uploadToDropbox(set.dropbox, `early-${i}.png`, bytes));
    expect((await call(stack, "PUT", `/image_sets/${set.id}`, stack.admin, { new_status: "finished" })).body).toBe("ok");
    await waitFor("copying under way", async () => (await stack.host.services.images.memberCount(set.id)) >= 16, 60_000);

    // While the job runs: new files, and files that were recorded already uploaded again with other bytes.
    const recorded = [...(await stack.host.services.images.memberSources(set.id)).keys()].map((path) => path.split("/").pop()!).slice(0, 3);
    const replacement = await png(50, 50, 99);
    const statuses = new Map<string, number>();
    await mapLimit(
      Array.from({ length: 30 }, (_, i) => `late-${i}.png`),
      8,
      async (name, i) => {
        statuses.set(name, await rawUpload(set.dropbox, name, await png(9, 9, 500 + i)));
      },
    );
    for (const name of recorded) statuses.set(name, await rawUpload(set.dropbox, name, replacement));

    const done = await waitFor(
      "set finished",
      async () => {
        const s = (await call(stack, "GET", `/image_sets/${set.id}`, stack.admin)).body;
        return s.status === "finished" ? s : undefined;
      },
      60_000,
    );
    const listed = (await call(stack, "GET", `/image_sets/${set.id}/images?per_page=1000`, stack.admin)).body;
    const names = new Set(listed.images.map((i: { blobstorage_path: string }) => i.blobstorage_path.replace("uploads/late-uploads/", "")));
    const rejected = new Map<string, string>(done.rejected_files.map((f: { name: string; reason: string }) => [f.name, f.reason]));
    // Nothing accepted is lost: every upload the service took (201) is recorded or listed with a reason.
    for (const [name, status] of statuses) {
      if (status === 201) expect(names.has(name) || rejected.has(name), name).toBe(true);
    }
    expect(first.every((_, i) => names.has(`early-${i}.png`))).toBe(true);
    for (const name of recorded) {
      expect(rejected.get(name)).toMatch(/^late: replaced after its first version was recorded/);
      const index = Number(/early-(\d+)\.png/.exec(name)![1]);
      expect((await storedBytes(`uploads/late-uploads/${name}`)).equals(first[index]!)).toBe(true);
    }
    expect(listed.pagination.total).toBe(done.image_count);
  });
});

describe("label batches are all-or-nothing", () => {
  it("refuses a 55-entry batch whose last entry is over the per-image limit, storing nothing", async () => {
    const ids = await seedImages("half-batch", 55);
    const { id, partner } = await activeCampaign("half-batch", "half@example.com", ids);
    // About 1.1 MB of polygon points in the last entry: three polygons of 10,000 points.
    const polygon = Array.from({ length: 10_000 }, (_, i) => [(i % 97) + 0.123456789, (i % 71) + 0.987654321]);
    const batch = ids.map((imageId, i) => ({
      image_id: imageId,
      objects: i === 54 ? [0, 1, 2].map(() => ({ label: "big", polygon })) : [{ label: "a", bounding_box: box }],
    }));
    const before = await tableSnapshot(stack.host.services);
    const answer = await call(stack, "PUT", `/campaigns/${id}/objects`, partner, batch);
    expect(answer.status).toBe(413);
    expect(answer.body.detail).toMatch(/^body\[54\]\.objects: \d+ characters of JSON as stored; an image's objects may hold at most 420000/);
    expect(await tableSnapshot(stack.host.services)).toEqual(before);
  });

  it("stores a batch larger than one transaction whole, counts it, and keeps one history entry per image", async () => {
    const ids = await seedImages("big-batch", 120);
    const { id, partner } = await activeCampaign("big-batch", "big@example.com", ids);
    const batch = ids.map((imageId) => ({ image_id: imageId, objects: [{ label: "a", bounding_box: box }] }));
    expect((await call(stack, "PUT", `/campaigns/${id}/objects`, partner, batch)).body).toBe("ok");
    const page = (await call(stack, "GET", `/campaigns/${id}/images?label_status=user_complete`, stack.admin)).body;
    expect(page.pagination.total).toBe(120);
    expect(page.images[0].last_activity).toMatch(CONTRACT_TIME);
    const history = (await call(stack, "GET", `/campaigns/${id}/images/${ids[7]}/history`, stack.admin)).body;
    expect(history.submissions).toHaveLength(1);
    expect(history.submissions[0].submitted_at).toMatch(CONTRACT_TIME);
    await waitFor("completed", async () => (await call(stack, "GET", `/campaigns/${id}`, stack.admin)).body.status === "completed", 30_000);
  });

  /** The real table client, failing the `n`th call of `method` (a crash of the request at that point). */
  /**
   * The real table client, failing the `n`th call of `method` (a crash of the request at that point),
   * counting only calls made after the first `after` call when `after` is given.
   */
  function failingAt(method: "submitTransaction" | "createEntity", n: number, after?: "createEntity"): TableClient {
    const real = stack.host.services.clients.table("campaignData");
    let calls = 0;
    let armed = after === undefined;
    return new Proxy(real, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (property !== method && property !== after) return typeof value === "function" ? value.bind(target) : value;
        return async (...args: unknown[]) => {
          if (property === method && armed && ++calls === n) throw new Error(`injected: the request died at ${method} #${n}`);
          if (property === after) armed = true;
          return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        };
      },
    });
  }

  /** The label batch store (and the campaign store it writes through) on a given table client. */
  function storesOn(data: TableClient): LabelBatchStore {
    return new LabelBatchStore(data, new CampaignStore(stack.host.services.clients.table("records"), data));
  }

  it("a request that dies after its batch committed: the check job applies the rest and queues the progress", async () => {
    const ids = await seedImages("died-applying", 150);
    const { id } = await activeCampaign("died-applying", "died@example.com", ids);
    const services = stack.host.services;
    const batch = newLabelBatch(
      id,
      "partner@example.com",
      ids.map((imageId) => ({ imageId, objects: [{ label_original: "a", label_translated: "a", confidence: null, bounding_box: box, polygon: null }] })),
    );
    const known = await services.campaigns.getImages(id, ids);
    // Staged, committed (the batch row's createEntity), then applying dies on its second transaction.
    const crashing = storesOn(failingAt("submitTransaction", 2, "createEntity"));
    await expect(crashing.store(batch, known)).rejects.toThrow(/injected/);
    const half = await services.campaigns.getImages(id, ids);
    const applied = [...half.values()].filter((i) => i.labelStatus === "user_complete").length;
    expect(applied).toBeGreaterThan(0);
    expect(applied).toBeLessThan(150);

    // The check job, delivered twice: the whole batch is applied once, and the progress catches up.
    await runCampaignSubmission(services, id, batch.batchId, ids, quiet);
    await runCampaignSubmission(services, id, batch.batchId, ids, quiet);
    const after = await services.campaigns.getImages(id, ids);
    expect([...after.values()].every((i) => i.labelStatus === "user_complete" && i.labelsBatch === batch.batchId)).toBe(true);
    expect((await services.labelBatches.history(id, ids[149]!)).length).toBe(1);
    await waitFor("progress counted", async () => (await services.campaigns.progress(id)).done === 150, 30_000);
  });

  it("a request that dies before its batch committed leaves nothing visible, and the check job aborts it for good", async () => {
    const ids = await seedImages("died-staging", 80);
    const { id } = await activeCampaign("died-staging", "staging@example.com", ids);
    const services = stack.host.services;
    const batch = newLabelBatch(
      id,
      "partner@example.com",
      ids.map((imageId) => ({ imageId, objects: [] })),
    );
    const known = await services.campaigns.getImages(id, ids);
    const before = await services.campaigns.getImages(id, ids);
    // Staged (one transaction of history rows), then the commit (the first createEntity) fails.
    await expect(storesOn(failingAt("createEntity", 1)).store(batch, known)).rejects.toThrow(/injected/);
    expect(await services.labelBatches.history(id, ids[0]!)).toEqual([]);
    expect([...(await services.campaigns.getImages(id, ids)).values()]).toEqual([...before.values()]);

    await runCampaignSubmission(services, id, batch.batchId, ids, quiet);
    const historyRows: unknown[] = [];
    for (const partition of new Set(ids.map((imageId) => services.campaigns.imagePartition(id, imageId)))) {
      for await (const row of services.clients
        .table("campaignData")
        .listEntities({ queryOptions: { filter: odata`PartitionKey eq ${partition} and RowKey ge 'sub!' and RowKey lt 'sub"'` } }))
        historyRows.push(row);
    }
    expect(historyRows).toEqual([]);
    // A commit that arrives after the abort is refused, so the batch can never take effect half-seen.
    await expect(services.labelBatches.store(batch, known)).rejects.toBeInstanceOf(BatchAbortedError);
    expect((await services.campaigns.progress(id)).done).toBe(0);
  });

  it("screens a batch of ids that are not in the campaign without a read per id", async () => {
    const ids = await seedImages("screened", 10);
    const { id, partner } = await activeCampaign("screened", "screened@example.com", ids);
    const stray = Array.from({ length: 1000 }, (_, i) => ({ image_id: 5_000_000 + i * 7919, objects: [] }));
    const counter = countRequests(stack.host.services.clients.table("campaignData"));
    const answer = await call(stack, "PUT", `/campaigns/${id}/objects`, partner, stray);
    counter.stop();
    expect(answer.status).toBe(422);
    expect(answer.body.detail).toMatch(/^body\[0\]\.image_id: image 5000000 is not part of this campaign/);
    expect(counter.count).toBeLessThanOrEqual(3);
  });
});

describe("refused requests leave no trace", () => {
  const deep = (levels: number) => "[".repeat(levels) + "]".repeat(levels);
  const nested = (levels: number): Record<string, unknown> => {
    let value: Record<string, unknown> = { leaf: true };
    for (let i = 1; i < levels; i++) value = { n: value };
    return value;
  };

  it("validates a whole campaign request (metadata size and depth, labels) before creating the labeler", async () => {
    const cases: Array<[unknown, number, RegExp]> = [
      [
        { title: "meta-big", labeler_email: "meta@example.com", metadata: { blob: "x".repeat(70 * 1024) } },
        422,
        /metadata is \d+ bytes of JSON; at most 16384/,
      ],
      [`{"title":"meta-deep","labeler_email":"meta@example.com","metadata":{"a":${deep(5000)}}}`, 400, /nests deeper than 64 levels/],
      [{ title: "meta-deep", labeler_email: "meta@example.com", metadata: nested(30) }, 422, /metadata nests deeper than 20 levels/],
      [{ title: "nul-label", labeler_email: "meta@example.com", label_translations: { "a\u0000b": "c" } }, 422, /control character U\+0000/],
      [{ title: "long-label", labeler_email: "meta@example.com", label_translations: { a: "b".repeat(300) } }, 422, /longer than 256 characters/],
    ];
    const before = await tableSnapshot(stack.host.services);
    for (const [body, status, detail] of cases) {
      const answer = await call(stack, "POST", "/campaigns", stack.admin, body);
      expect(answer.status, JSON.stringify(body).slice(0, 80)).toBe(status);
      expect(answer.body.detail).toMatch(detail);
    }
    expect(await tableSnapshot(stack.host.services)).toEqual(before);
    // Within the limits it is stored and echoed as sent.
    const ok = await call(stack, "POST", "/campaigns", stack.admin, { title: "meta-ok", labeler_email: "meta@example.com", metadata: nested(15) });
    expect(ok.status).toBe(201);
    expect(ok.body.metadata).toEqual(nested(15));
    expect(ok.body.access_token.apisecret).toMatch(/^[0-9a-f]{32}$/);
  });

  it("refuses oversized or deep image set metadata before creating the dropbox", async () => {
    const before = {
      tables: await tableSnapshot(stack.host.services),
      blobs: await stack.host.services.clients.blobService.getContainerClient("dropbox-meta-set").exists(),
    };
    expect((await call(stack, "POST", "/image_sets", stack.admin, { title: "meta-set", metadata: { blob: "x".repeat(70 * 1024) } })).status).toBe(422);
    expect((await call(stack, "POST", "/image_sets", stack.admin, `{"title":"meta-set","metadata":{"a":${deep(1000)}}}`)).status).toBe(400);
    expect(await tableSnapshot(stack.host.services)).toEqual(before.tables);
    expect(await stack.host.services.clients.blobService.getContainerClient("dropbox-meta-set").exists()).toBe(before.blobs);
  });

  it("refuses a label with a control character, storing nothing", async () => {
    const ids = await seedImages("nul", 2);
    const { id, partner } = await activeCampaign("nul-labels", "nul@example.com", ids);
    const before = await tableSnapshot(stack.host.services);
    const answer = await call(stack, "PUT", `/campaigns/${id}/objects`, partner, [
      { image_id: ids[0], objects: [{ label: "ok", bounding_box: box }] },
      { image_id: ids[1], objects: [{ label: "a\u0000b", bounding_box: box }] },
    ]);
    expect(answer.status).toBe(422);
    expect(answer.body.detail).toMatch(/body\[1\]\.objects\[0\]\.label: label holds the control character U\+0000/);
    expect(await tableSnapshot(stack.host.services)).toEqual(before);
  });
});

describe("partners", () => {
  it("lose access to a campaign's images and writes once it is finished", async () => {
    const ids = await seedImages("finished-access", 1);
    const { id, partner } = await activeCampaign("finished-access", "finished@example.com", ids);
    expect((await call(stack, "GET", `/images/${ids[0]}`, partner)).status).toBe(303);
    expect((await call(stack, "PUT", `/campaigns/${id}/objects`, partner, [{ image_id: ids[0], objects: [] }])).body).toBe("ok");
    await waitFor("completed", async () => (await call(stack, "GET", `/campaigns/${id}`, stack.admin)).body.status === "completed", 30_000);
    expect((await call(stack, "PUT", `/campaigns/${id}`, stack.admin, { new_status: "finished" })).body).toBe("ok");
    const images = await call(stack, "GET", `/campaigns/${id}/images`, partner);
    expect(images.status).toBe(403);
    expect(images.body.detail).toMatch(/partner's access has ended/);
    expect((await call(stack, "GET", `/images/${ids[0]}`, partner)).status).toBe(404);
    expect((await call(stack, "PUT", `/campaigns/${id}/objects`, partner, [{ image_id: ids[0], objects: [] }])).status).toBe(403);
    // The admin still sees everything.
    expect((await call(stack, "GET", `/images/${ids[0]}`, stack.admin)).status).toBe(303);
  });

  it("cannot tell an unknown key from a wrong secret by the work the check does", async () => {
    const { partner } = await activeCampaign("timing", "timing@example.com", await seedImages("timing", 1));
    const cpu = async (headers: Record<string, string>) => {
      const samples: number[] = [];
      for (let i = 0; i < 5; i++) {
        const start = process.cpuUsage();
        expect((await call(stack, "GET", "/info/version", headers)).status).toBe(401);
        const used = process.cpuUsage(start);
        samples.push(used.user + used.system);
      }
      return samples.sort((a, b) => a - b)[2]!;
    };
    const wrongSecret = await cpu({ "Authentication-Key": partner["Authentication-Key"]!, "Authentication-Secret": "wrong-secret" });
    const unknownKey = await cpu({ "Authentication-Key": "no-such-key-0000", "Authentication-Secret": "wrong-secret" });
    // Both pay one scrypt (tens of milliseconds of CPU); an unknown key used to answer after a single table read.
    expect(unknownKey).toBeGreaterThan(wrongSecret * 0.5);
  });
});
