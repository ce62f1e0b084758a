import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runImageSetCopy } from "../../shared/jobs/imageSetCopy.js";
import { jobLog } from "../../shared/jobs/runtime.js";
import { StorageQueueJobSender } from "../../shared/queue/storageQueue.js";
import { createStorageClients } from "../../shared/storage/clients.js";
import { DuplicatingSender } from "../support/duplicatingSender.js";
import { testConfig } from "../support/env.js";
import { png } from "../support/images.js";
import { call, startTestStack, uploadToDropbox, waitFor, type TestStack } from "../support/stack.js";
import { mapLimit } from "../../shared/util/concurrency.js";

const IMAGES = 200;
const quiet = jobLog(() => {}, {});

async function createFilledSet(stack: TestStack, title: string): Promise<number> {
  const set = (await call(stack, "POST", "/image_sets", stack.admin, { title })).body;
  const files = await Promise.all(Array.from({ length: IMAGES }, (_, i) => png(16 + (i % 7), 16, i)));
  await mapLimit(files, 16, (bytes, i) => uploadToDropbox(set.dropbox_url, `img-${String(i).padStart(3, "0")}.png`, bytes));
  return set.imageset_id as number;
}

async function expectExactlyOnce(stack: TestStack, imagesetId: number, title: string): Promise<void> {
  const set = (await call(stack, "GET", `/image_sets/${imagesetId}`, stack.admin)).body;
  expect(set.status).toBe("finished");
  const listed = (await call(stack, "GET", `/image_sets/${imagesetId}/images?per_page=1000`, stack.admin)).body;
  expect(listed.pagination.total).toBe(IMAGES);
  const paths = listed.images.map((i: any) => i.blobstorage_path);
  expect(new Set(paths).size).toBe(IMAGES);
  const ids = listed.images.map((i: any) => i.image_id);
  expect(new Set(ids).size).toBe(IMAGES);
  const all = (await call(stack, "GET", "/images?per_page=1", stack.admin)).body.pagination.total;
  expect(all).toBeGreaterThanOrEqual(IMAGES);
  expect(await stack.host.services.clients.blobService.getContainerClient(`dropbox-${title}`).exists()).toBe(false);
}

describe("copy job faults", () => {
  let stack: TestStack;
  beforeAll(async () => {
    const config = testConfig();
    const clients = createStorageClients(config);
    stack = await startTestStack({ queue: new DuplicatingSender(new StorageQueueJobSender(config, clients.queueService)), config });
  });
  afterAll(async () => stack?.stop());

  it("every copy message delivered twice: each image recorded exactly once", async () => {
    const id = await createFilledSet(stack, "dup-delivery");
    expect((await call(stack, "PUT", `/image_sets/${id}`, stack.admin, { new_status: "finished" })).body).toBe("ok");
    await waitFor("finished", async () => (await call(stack, "GET", `/image_sets/${id}`, stack.admin)).body.status === "finished", 60_000);
    await expectExactlyOnce(stack, id, "dup-delivery");
    // Both deliveries ran to the end: the second found everything recorded.
    await waitFor("second delivery done", async () => stack.logs.filter((l) => l.includes('"job":"imageset-copy"') && l.includes("done in")).length >= 2);
  });

  it("a copy job killed half-way and run again ends with every image once and no dropbox", async () => {
    const id = await createFilledSet(stack, "killed-half-way");
    // Mark it processing the way the API does, but run the job by hand in a child process we can kill.
    await stack.host.services.imageSets.update(id, () => ({ status: "processing" }));
    const child = spawn(process.execPath, ["--import", "tsx", "test/support/runCopyJob.ts", String(id)], {
      env: {
        ...process.env,
        STORAGE_CONNECTION_STRING: stack.config.settings.STORAGE_CONNECTION_STRING,
        RESOURCE_PREFIX: stack.config.prefix,
        COPY_CONCURRENCY: "2",
      },
      stdio: "ignore",
    });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    const atKill = await waitFor(
      "half the images recorded",
      async () => {
        const n = await stack.host.services.images.memberCount(id);
        return n >= 64 ? n : undefined;
      },
      60_000,
    );
    child.kill("SIGKILL");
    await exited;
    const afterKill = await stack.host.services.images.memberCount(id);
    expect(afterKill).toBeLessThan(IMAGES);
    expect((await stack.host.services.imageSets.get(id))!.status).toBe("processing");
    expect(atKill).toBeGreaterThan(0);

    // The redelivered message: run the same job again, twice at once for good measure.
    await Promise.all([runImageSetCopy(stack.host.services, id, quiet), runImageSetCopy(stack.host.services, id, quiet)]);
    await expectExactlyOnce(stack, id, "killed-half-way");
  });
});
