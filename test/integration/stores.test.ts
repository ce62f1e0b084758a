import { beforeAll, describe, expect, it } from "vitest";
import type { ImageFacts } from "../../shared/repos/images.js";
import { createServices, type Services } from "../../shared/services.js";
import { DenseList } from "../../shared/storage/denseList.js";
import { provisionStorage } from "../../shared/storage/provision.js";
import { testConfig } from "../support/env.js";

let services: Services;
beforeAll(async () => {
  const config = testConfig();
  services = createServices(config);
  await provisionStorage(config, services.clients, { queues: false });
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

describe("dense list on Azurite", () => {
  it("gives every key exactly one dense position under concurrent, overlapping appends", async () => {
    const list = new DenseList(services.clients.table("records"), "densetest", "x");
    const keys = Array.from({ length: 150 }, (_, i) => `k${i}`);
    // Eight writers, each appending an overlapping window of keys, some assuming they are new.
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, w) => list.append(keys.slice(w * 10, w * 10 + 80).map((key) => ({ key })), {}, w % 2 === 0)),
    );
    expect(await list.count()).toBe(150);
    const positions = new Map<string, number>();
    for (const result of results) {
      for (const { key, pos } of result) {
        if (positions.has(key)) expect(positions.get(key)).toBe(pos);
        positions.set(key, pos);
      }
    }
    expect([...positions.values()].sort((a, b) => a - b)).toEqual(Array.from({ length: 150 }, (_, i) => i));
    expect(results.flat().filter((r) => r.created)).toHaveLength(150);
    const page = await list.range(140, 20);
    expect(page.map((row) => Number(String(row.rowKey).split("!").pop()))).toEqual(Array.from({ length: 10 }, (_, i) => 140 + i));
  });
});

describe("image store", () => {
  it("records a path once and finds images by id in any order, with gaps and unknown ids", async () => {
    const first = await services.images.record(Array.from({ length: 30 }, (_, i) => fact(`p/${i}`)));
    const again = await services.images.record([fact("p/3"), fact("p/new")], { assumeNew: true });
    expect(again[0]!.imageId).toBe(first[3]!.imageId);
    expect(again[1]!.imageId).toBe(31);
    const found = await services.images.getMany([5, 1, 3, 999, 3, 25, 31]);
    expect([...found.keys()]).toEqual([5, 1, 3, 25, 31]);
    expect(found.get(25)!.blobPath).toBe("p/24");
    expect(await services.images.count()).toBe(31);
  });
});
