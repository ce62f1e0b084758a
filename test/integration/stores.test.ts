/**
 * The storage structures on Azurite, at sizes that cross their partition (bucket) boundaries, under
 * concurrent and repeated writers and writers that die half-way.
 */
import type { TableClient } from "@azure/data-tables";
import { beforeAll, describe, expect, it } from "vitest";
import type { StoredObject } from "../../shared/domain/labels.js";
import { categoryOf, CampaignStore } from "../../shared/repos/campaigns.js";
import type { ImageFacts, ImageRecord } from "../../shared/repos/images.js";
import { LabelBatchStore, newLabelBatch } from "../../shared/repos/labelBatches.js";
import { createServices, type Services } from "../../shared/services.js";
import { BucketedSet, countsOf } from "../../shared/storage/buckets.js";
import { DenseList } from "../../shared/storage/denseList.js";
import { provisionStorage } from "../../shared/storage/provision.js";
import { KeyedSequence } from "../../shared/storage/sequence.js";
import { mapLimit } from "../../shared/util/concurrency.js";
import { testConfig } from "../support/env.js";

let services: Services;
let records: TableClient;
beforeAll(async () => {
  const config = testConfig();
  services = createServices(config);
  await provisionStorage(config, services.clients, { queues: false });
  records = services.clients.table("records");
});

const fact = (path: string): ImageFacts => ({
  blobPath: path,
  imagesetId: 1,
  imagesetTitle: "s",
  width: 10,
  height: 10,
  filesize: 1,
  filetype: "PNG",
  dateTaken: null,
  lat: null,
  lon: null,
});

/** The real client, failing the `n`th call of `method` (a writer dying at that point). */
function dyingAt(table: TableClient, method: "submitTransaction" | "updateEntity" | "createEntity", n: number): TableClient {
  let calls = 0;
  return new Proxy(table, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (property !== method) return typeof value === "function" ? value.bind(target) : value;
      return async (...args: unknown[]) => {
        if (++calls === n) throw new Error(`injected: died at ${method} #${n}`);
        return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
      };
    },
  });
}

describe("dense list (short lists: image sets, campaigns)", () => {
  it("gives every key exactly one dense position under concurrent, overlapping appends", async () => {
    const list = new DenseList(records, "densetest", "x");
    const keys = Array.from({ length: 60 }, (_, i) => `k${i}`);
    const results = await Promise.all(Array.from({ length: 6 }, (_, w) => mapLimit(keys.slice(w * 8, w * 8 + 20), 4, (key) => list.append(key, { key }))));
    expect(await list.count()).toBe(60);
    const positions = new Map<string, number>();
    results.forEach((result, w) =>
      result.forEach(({ pos }, i) => {
        const key = keys[w * 8 + i]!;
        if (positions.has(key)) expect(positions.get(key)).toBe(pos);
        positions.set(key, pos);
      }),
    );
    expect([...positions.values()].sort((a, b) => a - b)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(results.flat().filter((r) => r.created)).toHaveLength(60);
    const tail = await list.range(55, 20);
    expect(tail.map((row) => positions.get(String(row.itemKey)))).toEqual([55, 56, 57, 58, 59]);
  });
});

describe("keyed sequence (the image store)", () => {
  it("gives 2,500 keys dense positions across three buckets under six concurrent, overlapping writers", async () => {
    const sequence = new KeyedSequence(records, "seqtest");
    const keys = Array.from({ length: 2500 }, (_, i) => `key-${i}`);
    const windows = Array.from({ length: 6 }, (_, w) => keys.slice(w * 400, w * 400 + 600));
    // Keys in 40 groups (key rows' partitions), as a caller groups keys that are appended together.
    const group = (key: string) => String(Number(key.split("-")[1]) % 40);
    const results = await Promise.all(windows.map((window) => sequence.append(window.map((key) => ({ key, group: group(key), item: { key } })))));
    expect(await sequence.count()).toBe(2500);
    const positions = new Map<string, number>();
    for (const result of results) {
      for (const { key, pos } of result) {
        if (positions.has(key)) expect(positions.get(key), key).toBe(pos);
        positions.set(key, pos);
      }
    }
    expect([...positions.values()].sort((a, b) => a - b)).toEqual(Array.from({ length: 2500 }, (_, i) => i));
    expect(results.flat().filter((r) => r.created)).toHaveLength(2500);
    // Pages and look-ups across bucket boundaries.
    const page = await sequence.range(995, 10);
    expect(page.map((row) => positions.get(String(row.itemKey)))).toEqual(Array.from({ length: 10 }, (_, i) => 995 + i));
    const some = await sequence.getMany([0, 999, 1000, 2499, 2500]);
    expect([...some.keys()].sort((a, b) => a - b)).toEqual([0, 999, 1000, 2499]);
    expect(await sequence.positionOf("key-1234", group("key-1234"))).toBe(positions.get("key-1234"));
  });

  it("finishes a block whose writer died after taking positions, and forgets a writer that died before: no gap, no duplicate", async () => {
    const base = "seqcrash";
    const healthy = new KeyedSequence(records, base, 200);
    const items = (keys: string[]) => keys.map((key) => ({ key, group: "g", item: {} }));
    await healthy.append(items(["a", "b"]));
    // Dies writing its block's rows (the transaction that gave it positions 2-4 recorded the block and gave the lease up).
    const dying = new KeyedSequence(dyingAt(records, "submitTransaction", 2), base, 200);
    await expect(dying.append(items(["c", "d", "e"]))).rejects.toThrow(/injected/);
    expect(await healthy.count()).toBe(2); // readers see up to the pending block
    // Dies taking the lease: it leaves nothing.
    const claimer = new KeyedSequence(dyingAt(records, "updateEntity", 1), base, 200);
    await expect(claimer.append(items(["f", "g"]))).rejects.toThrow(/injected/);
    // A writer meanwhile, with none of the block's keys, takes the next positions and leaves the fresh block alone.
    await healthy.append(items(["g", "h"]));
    expect(await healthy.count()).toBe(2);
    // The dead writer's job resumed: "d" keeps the position the pending block gave it, and the block is written
    // before that position is returned (not left until it is stale), so the image it names exists at once.
    const resumed = await healthy.append(items(["d"]));
    expect(resumed).toEqual([{ key: "d", pos: 3, created: false }]);
    expect((await healthy.get(3))?.itemKey).toBe("d");
    expect(await healthy.count()).toBe(7);
    // A block nobody asks for again is finished by the next writer once it is stale.
    const dyingAgain = new KeyedSequence(dyingAt(records, "submitTransaction", 2), base, 200);
    await expect(dyingAgain.append(items(["i", "j"]))).rejects.toThrow(/injected/);
    expect(await healthy.count()).toBe(7);
    await new Promise((resolve) => setTimeout(resolve, 250));
    await healthy.append(items(["a"]));
    expect(await healthy.count()).toBe(9);
    const positions = new Map<string, number>();
    for (const key of ["a", "b", "c", "d", "e", "g", "h", "i", "j"]) positions.set(key, (await healthy.positionOf(key, "g"))!);
    expect([...positions.values()].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(positions.get("d")).toBe(3);
    expect(await healthy.positionOf("f", "g")).toBeUndefined();
    expect((await healthy.range(0, 10)).map((row) => row.itemKey)).toEqual(["a", "b", "c", "d", "e", "g", "h", "i", "j"]);
  });

  it("records an image path once, and finds images by id in any order, with unknown ids left out", async () => {
    const first = await services.images.record(Array.from({ length: 30 }, (_, i) => fact(`p/${i}`)));
    const again = await services.images.record([fact("p/3"), fact("p/new")]);
    expect(again[0]!.imageId).toBe(first[3]!.imageId);
    expect(again[1]!.imageId).toBe(31);
    const found = await services.images.getMany([5, 1, 3, 999, 3, 25, 31]);
    expect([...found.keys()]).toEqual([5, 1, 3, 25, 31]);
    expect(found.get(25)!.blobPath).toBe("p/24");
    expect(await services.images.count()).toBe(31);
    expect((await services.images.findByPath("p/7"))?.imageId).toBe(8);
  });
});

describe("bucketed set (set members, campaign images)", () => {
  it("adds each id once under concurrent overlapping adders across buckets, with exact counts and pages", async () => {
    const set = new BucketedSet(records, "settest", "m");
    const ids = Array.from({ length: 2200 }, (_, i) => 500 + i); // buckets 0, 1, 2
    const added = await Promise.all(
      Array.from({ length: 5 }, (_, w) =>
        set.add(
          ids.slice(w * 400, w * 400 + 700).map((id) => ({ id, entity: { id } })),
          () => ({ even: 1 }),
        ),
      ),
    );
    expect(added.reduce((a, b) => a + b, 0)).toBe(2200);
    const exact = await set.exactCounts();
    // A count row per group of 100 ids: groups 5-26.
    expect([...exact.keys()]).toEqual(Array.from({ length: 22 }, (_, i) => 5 + i));
    expect([...exact.values()].every((c) => c.total === 100 && c.counters.even === 100)).toBe(true);
    expect(await set.summary.read()).toEqual(exact);
    const { total, rows } = await set.page(495, 10);
    expect(total).toBe(2200);
    expect(rows.map((row) => row.id)).toEqual(Array.from({ length: 10 }, (_, i) => 995 + i));
    expect((await set.getMany([499, 500, 1000, 2699, 2700])).size).toBe(3);
  });

  it("pages a sparse selection by the groups that hold it, in id order, at any offset", async () => {
    const set = new BucketedSet(records, "sparsetest", "m");
    // Every 37th id of 3,000 selected: a few per group, across three buckets, some groups with none.
    const ids = Array.from({ length: 3000 }, (_, i) => 250 + i);
    await set.add(
      ids.map((id) => ({ id, entity: { id, picked: id % 37 === 0 } })),
      (entity): Record<string, number> => (entity.picked ? { picked: 1 } : {}),
    );
    const picked = ids.filter((id) => id % 37 === 0);
    for (const [offset, limit] of [
      [0, 5],
      [3, 30],
      [17, 100],
      [picked.length - 2, 10],
      [picked.length, 10],
    ] as const) {
      const { total, rows } = await set.page(offset, limit, ["picked"], "picked eq true");
      expect(total).toBe(picked.length);
      expect(rows.map((row) => row.id)).toEqual(picked.slice(offset, offset + limit));
    }
  });
});

describe("reverse index (image -> campaigns)", () => {
  it("finds every campaign holding an image, across buckets, under concurrent and repeated indexing", async () => {
    const campaigns = new CampaignStore(records, services.clients.table("campaignData"));
    // Three campaigns over overlapping ids 40,000-42,499 (three buckets); campaign 903 indexed twice at once, in halves.
    const ids = Array.from({ length: 2500 }, (_, i) => 40_000 + i);
    const first = ids.filter((id) => id % 2 === 0);
    const second = ids.slice(1200);
    await Promise.all([
      campaigns.indexImages(901, first),
      campaigns.indexImages(902, second),
      campaigns.indexImages(903, ids.slice(0, 1500)),
      campaigns.indexImages(903, ids.slice(1000)),
      campaigns.indexImages(903, ids.slice(400, 1600)),
    ]);
    await campaigns.indexImages(901, first.slice(0, 300)); // a repeated step changes nothing
    for (const id of [40_000, 40_001, 40_999, 41_000, 41_199, 41_200, 42_499, 42_500, 39_999]) {
      const expected = [first.includes(id) && 901, second.includes(id) && 902, ids.includes(id) && 903].filter((c): c is number => c !== false);
      expect((await campaigns.campaignsOfImage(id)).sort(), `image ${id}`).toEqual(expected);
    }
  });
});

describe("campaign counts across buckets", () => {
  it("stay exact under concurrent label batches, reviews and repeats that cross bucket boundaries", async () => {
    const campaigns = new CampaignStore(records, services.clients.table("campaignData"));
    const batches = new LabelBatchStore(services.clients.table("campaignData"), campaigns);
    const campaignId = 777;
    const images: ImageRecord[] = Array.from({ length: 600 }, (_, i) => ({ ...fact(`c/${i}`), imageId: 800 + i })); // ids 800-1399
    expect(await Promise.all([campaigns.addImages(campaignId, images), campaigns.addImages(campaignId, images.slice(100, 300))])).toSatisfy(
      ([a, b]: number[]) => a! + b! === 600,
    );
    const objects: StoredObject[] = [
      { label_original: "a", label_translated: "a", confidence: null, bounding_box: { xmin: 0, xmax: 1, ymin: 0, ymax: 1 }, polygon: null },
    ];
    const ids = images.map((i) => i.imageId);
    // Overlapping batches of 60 (one or two buckets each), every one stored twice at once.
    const windows = Array.from({ length: 12 }, (_, w) => ids.slice(w * 50, w * 50 + 60));
    await Promise.all(
      windows.flatMap((window) => {
        const batch = newLabelBatch(
          campaignId,
          "p@example.com",
          window.map((imageId) => ({ imageId, objects })),
        );
        return [0, 1].map(async () => batches.store(batch, await campaigns.getImages(campaignId, window)));
      }),
    );
    // Reviews across the 1,000 boundary, racing each other.
    await Promise.all([
      campaigns.updateImages(campaignId, ids.slice(150, 250), () => ({ labelStatus: "admin_complete" })),
      campaigns.updateImages(campaignId, ids.slice(190, 230), (image) => (image.labelStatus === "unlabeled" ? null : { labelStatus: "rejected" })),
      campaigns.updateImages(campaignId, ids.slice(180, 260), () => ({ testData: true })),
    ]);
    // The counters equal a recount of the rows, in every bucket and in the summary.
    const recount = new Map<string, number>();
    for await (const rows of campaigns.scanImages(campaignId))
      for (const image of rows)
        recount.set(categoryOf(image.labelStatus, image.testData), (recount.get(categoryOf(image.labelStatus, image.testData)) ?? 0) + 1);
    const exact = [...(await campaigns.images(campaignId).exactCounts()).values()];
    const summed = new Map<string, number>();
    // Review-state categories only (the statistics' counters beside them: campaignStats.test.ts).
    for (const counts of exact)
      for (const [name, n] of Object.entries(counts.counters)) if (n && /_[01]$/.test(name)) summed.set(name, (summed.get(name) ?? 0) + n);
    expect(summed).toEqual(recount);
    expect([...(await campaigns.images(campaignId).summary.read()).values()]).toEqual(exact);
    const rejected = recount.get(categoryOf("rejected", true)) ?? 0;
    expect(await campaigns.progress(campaignId)).toEqual({ done: 600 - rejected, total: 600 });
    expect(countsOf(await campaigns.images(campaignId).countRow(10)).total).toBe(100);
  });
});
