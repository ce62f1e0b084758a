import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runMaskRender } from "../../shared/jobs/maskRender.js";
import type { JobBody, JobSender, JobType, SendOptions } from "../../shared/queue/messages.js";
import { StorageQueueJobSender } from "../../shared/queue/storageQueue.js";
import type { ImageFacts } from "../../shared/repos/images.js";
import { createStorageClients } from "../../shared/storage/clients.js";
import { DuplicatingSender } from "../support/duplicatingSender.js";
import { testConfig } from "../support/env.js";
import { png } from "../support/images.js";
import { call, startTestStack, waitFor, type TestStack } from "../support/stack.js";
import { readZip } from "../support/zip.js";

/** Delivers every mask-render message twice (the names and counts must not care), and can be down. */
class TwiceOrDown extends DuplicatingSender {
  down = false;
  constructor(private readonly once: JobSender) {
    super(once);
  }
  override async send<T extends JobType>(type: T, body: JobBody<T>, options?: SendOptions): Promise<void> {
    if (this.down) throw new Error("queue is down");
    return type === "mask-render" ? super.send(type, body, options) : this.once.send(type, body, options);
  }
}

let stack: TestStack;
let sender: TwiceOrDown;
let campaignId: number;
const images = [
  { path: "x/a.png", size: [10, 6] },
  { path: "x/a.PNG", size: [12, 7] },
  { path: "y/b.png", size: [14, 8] },
  { path: "y/b_gt.png", size: [16, 9] },
] as const;
let ids: number[];
const stored = new Map<string, Buffer>();

beforeAll(async () => {
  const config = testConfig();
  sender = new TwiceOrDown(new StorageQueueJobSender(config, createStorageClients(config).queueService));
  stack = await startTestStack({ config, queue: sender });
  const container = stack.host.services.clients.blobService.getContainerClient(stack.config.imageContainer);
  const facts: ImageFacts[] = [];
  for (const [
    i,
    {
      path,
      size: [width, height],
    },
  ] of images.entries()) {
    const bytes = await png(width, height, i + 1);
    stored.set(path, bytes);
    await container.getBlockBlobClient(path).uploadData(bytes);
    facts.push({
      blobPath: path,
      imagesetId: 1,
      imagesetTitle: "mo",
      width,
      height,
      filesize: bytes.length,
      filetype: "PNG",
      dateTaken: null,
      lat: null,
      lon: null,
    });
  }
  ids = (await stack.host.services.images.record(facts)).map((r) => r.imageId);
  const created = await call(stack, "POST", "/campaigns", stack.admin, { title: "mask-outputs", labeler_email: "mo@example.com" });
  campaignId = created.body.campaign_id;
  await call(
    stack,
    "POST",
    `/campaigns/${campaignId}/images`,
    stack.admin,
    ids.map((id) => ({ id })),
  );
  await call(stack, "PUT", `/campaigns/${campaignId}`, stack.admin, { new_status: "active" });
  const partner = { "Authentication-Key": created.body.access_token.apikey, "Authentication-Secret": created.body.access_token.apisecret };
  const labels = ids.map((id) => ({ image_id: id, objects: [{ label: "thing", bounding_box: { xmin: 1, xmax: 5, ymin: 1, ymax: 4 } }] }));
  expect((await call(stack, "PUT", `/campaigns/${campaignId}/objects`, partner, labels)).body).toBe("ok");
});
afterAll(async () => stack?.stop());

const labelImages = (body: Record<string, unknown>) =>
  call(stack, "PUT", `/campaigns/${campaignId}/label_images`, stack.admin, { gt_mode: "filled_polygon", label_status: "user_complete", ...body });
/** A mask job over no images (nothing is admin_complete): claims its folder and finishes at once. */
const emptyJob = (output_folder: string) =>
  call(stack, "POST", `/campaigns/${campaignId}/exports`, stack.admin, { format: "masks", gt_mode: "filled_polygon", output_folder });

async function finished(exportId: string) {
  const job = await waitFor(`export ${exportId}`, async () => {
    const r = (await call(stack, "GET", `/exports/${exportId}`, stack.admin)).body;
    return r.status === "succeeded" || r.status === "failed" ? r : undefined;
  });
  expect(job.status, job.error).toBe("succeeded");
  return job;
}

async function zipOf(exportId: string) {
  const job = await finished(exportId);
  return { job, zip: await readZip(Buffer.from(await (await fetch(job.download_url)).arrayBuffer())) };
}

async function folderListing(folder: string): Promise<string[]> {
  const container = stack.host.services.clients.blobService.getContainerClient(stack.config.exportContainer);
  const names: string[] = [];
  for await (const blob of container.listBlobsFlat({ prefix: `${folder}/` })) names.push(blob.name.slice(folder.length + 1));
  return names.sort();
}

const exportCount = async () => (await call(stack, "GET", `/campaigns/${campaignId}/exports?per_page=1000`, stack.admin)).body.pagination.total as number;

describe("mask outputs under hostile input", () => {
  it("refuses an empty suffix and reserved or unsafe folders with 422, leaving no record and no claim", async () => {
    const before = await exportCount();
    for (const [body, field] of [
      [{ output_folder: "refused", suffix: "" }, "suffix"],
      [{ output_folder: "refused", suffix: "a/b" }, "suffix"],
      [{ output_folder: "refused", suffix: "x".repeat(65) }, "suffix"],
      [{ output_folder: "downloads/x" }, "output_folder"],
      [{ output_folder: "a//b" }, "output_folder"],
      [{ output_folder: "a/%2e%2e/b" }, "output_folder"],
    ] as const) {
      for (const r of [
        await labelImages(body),
        await call(stack, "POST", `/campaigns/${campaignId}/exports`, stack.admin, { format: "masks", gt_mode: "filled_polygon", ...body }),
      ]) {
        expect(r.status, JSON.stringify(body)).toBe(422);
        expect(r.body.detail).toContain(`body.${field}: ${field} `);
      }
    }
    expect(await exportCount()).toBe(before);
    expect(await stack.host.services.exports.folderOwner("refused")).toBeUndefined();
  });

  it("gives every output its own name (case aside), renaming the later image with __<id> and a warning", async () => {
    const started = await labelImages({ output_folder: "names", suffix: "_gt" });
    expect(started.status).toBe(202);
    const { job, zip } = await zipOf(started.body.export_id);
    const [a, A, b, bgt] = ids as [number, number, number, number];
    expect(job.progress).toEqual({ done: 4, total: 4 });
    expect(job.counts).toEqual({ images: 4, objects: 4 });
    expect(job.warnings).toEqual([
      `image ${A} (x/a.PNG): x/a.PNG already used by another image, written as x/a__${A}.PNG`,
      `image ${bgt} (y/b_gt.png): y/b_gt.png already used by another image, written as y/b_gt__${bgt}.png`,
    ]);
    expect(job.warning_count).toBe(2);
    const expected: Array<[number, string, string]> = [
      [a, "x/a.png", "x/a_gt"],
      [A, `x/a__${A}.PNG`, `x/a__${A}_gt`],
      [b, "y/b.png", "y/b_gt"],
      [bgt, `y/b_gt__${bgt}.png`, `y/b_gt__${bgt}_gt`],
    ];
    const entries = ["legend.json", ...expected.flatMap(([, copy, mask]) => [copy, `${mask}.png`, `${mask}.json`])].sort();
    expect([...zip.keys()].sort()).toEqual(entries);
    expect(new Set(entries.map((e) => e.toLowerCase())).size).toBe(entries.length);
    for (const [i, [imageId, copy, mask]] of expected.entries()) {
      // Each output belongs to its image: the copy's bytes, the mask's size, the legend's image_id.
      expect(zip.get(copy)!.equals(stored.get(images[i]!.path)!), copy).toBe(true);
      const meta = await sharp(zip.get(`${mask}.png`)).metadata();
      expect([meta.width, meta.height], mask).toEqual([...images[i]!.size]);
      expect(JSON.parse(zip.get(`${mask}.json`)!.toString()).image_id, mask).toBe(imageId);
    }
    expect(await folderListing("names")).toEqual(entries);

    // A repeated delivery of a renamed image's render: same names, counted once.
    const services = stack.host.services;
    const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
    await services.exports.update(job.export_id, () => ({ status: "running", stage: "render" }));
    await runMaskRender(services, job.export_id, A, silent);
    await runMaskRender(services, job.export_id, bgt, silent);
    const again = await finished(job.export_id); // the render re-queued the zip stage, which finished it again
    expect(again.progress).toEqual({ done: 4, total: 4 });
    expect(again.counts).toEqual({ images: 4, objects: 4 });
    expect(await folderListing("names")).toEqual(entries);
  });

  it("gives each mask job a folder of its own: the same, an enclosing or an inner folder is 409, siblings are fine", async () => {
    const before = await exportCount();
    const owner = await emptyJob("own");
    expect(owner.status).toBe(202);
    const ownerId = owner.body.export_id as string;
    for (const folder of ["own", "/own/", "own/x", "own/x/y"]) {
      const r = await labelImages({ output_folder: folder });
      expect(r.status, folder).toBe(409);
      expect(r.body.detail, folder).toContain(`belongs to export ${ownerId}`);
      expect(r.body.owner_export_id).toBe(ownerId);
    }
    expect(await exportCount()).toBe(before + 1);
    expect(await stack.host.services.exports.folderOwner("own/x")).toBeUndefined();

    const [run1, run2, ownx] = await Promise.all([labelImages({ output_folder: "sib/run1" }), labelImages({ output_folder: "sib/run2" }), emptyJob("ownx")]);
    expect([run1.status, run2.status, ownx.status]).toEqual([202, 202, 202]);
    const parent = await labelImages({ output_folder: "sib" });
    expect(parent.status).toBe(409);
    expect(parent.body.detail).toMatch(
      new RegExp(`^output_folder sib holds sib/run[12], which belongs to export (${run1.body.export_id}|${run2.body.export_id})`),
    );
    expect(await exportCount()).toBe(before + 4);

    // Each zip holds exactly its own job's files, and so does its folder.
    const one = await zipOf(run1.body.export_id);
    const two = await zipOf(run2.body.export_id);
    expect(one.zip.size).toBe(13);
    expect([...one.zip.keys()].sort()).toEqual([...two.zip.keys()].sort());
    expect(await folderListing("sib/run1")).toEqual([...one.zip.keys()].sort());
    for (const [key, bytes] of two.zip) if (key.endsWith("_gt.json")) expect(JSON.parse(bytes.toString()).image_id).toBeTypeOf("number");
    expect([...(await zipOf(ownerId)).zip.keys()]).toEqual(["legend.json"]);
    await finished(ownx.body.export_id);
  });

  it("lets exactly one of racing overlapping requests have a folder", async () => {
    const folders = ["race", "race", "race", "race/a", "race/b", "race/a"];
    const answers = await Promise.all(folders.map((f) => emptyJob(f)));
    expect(answers.every((r) => r.status === 202 || r.status === 409)).toBe(true);
    const winners = folders.filter((_, i) => answers[i]!.status === 202);
    const winnerIds = answers.filter((r) => r.status === 202).map((r) => r.body.export_id as string);
    expect(winners.length).toBeGreaterThan(0);
    // The winners never overlap; every loser overlaps a winner, and its 409 names one.
    const overlap = (x: string, y: string) => x === y || y.startsWith(`${x}/`) || x.startsWith(`${y}/`);
    for (const [i, x] of winners.entries()) for (const y of winners.slice(i + 1)) expect(overlap(x, y), `${x} ${y}`).toBe(false);
    for (const [i, r] of answers.entries()) {
      if (r.status !== 409) continue;
      expect(winners.some((w) => overlap(w, folders[i]!))).toBe(true);
      expect(winnerIds).toContain(r.body.owner_export_id);
    }
    for (const id of winnerIds) await finished(id);
  });

  it("takes over a claim whose request died before recording its export, and a released one", async () => {
    const exports = stack.host.services.exports;
    const ghost = `${campaignId}-20200101000000-deadbeef`;
    // Young: the request may still be on its way to recording the export.
    expect(await exports.claimFolder("ghost", ghost)).toEqual({ ok: true });
    const young = await labelImages({ output_folder: "ghost/inner" });
    expect(young.status).toBe(409);
    expect(young.body.owner_export_id).toBe(ghost);
    // Old and without a record: stale, so a folder inside it (or itself) may be claimed.
    expect(await exports.claimFolder("stale", ghost, () => Date.now() - 10 * 60_000)).toEqual({ ok: true });
    const inner = await emptyJob("stale/inner");
    expect(inner.status).toBe(202);
    expect((await emptyJob("stale")).body.owner_export_id).toBe(inner.body.export_id);
    // Released after a failed request: free again.
    expect(await exports.claimFolder("released", ghost)).toEqual({ ok: true });
    await exports.releaseFolder("released", ghost);
    const taken = await emptyJob("released");
    expect(taken.status).toBe(202);
    for (const id of [inner.body.export_id, taken.body.export_id]) await finished(id);
  });

  it("gives the folder back when the export cannot be queued (503)", async () => {
    sender.down = true;
    const failed = await emptyJob("unqueued").finally(() => (sender.down = false));
    expect(failed.status).toBe(503);
    expect(await stack.host.services.exports.folderOwner("unqueued")).toBeUndefined();
    const retry = await emptyJob("unqueued");
    expect(retry.status).toBe(202);
    await finished(retry.body.export_id);
  });
});
