import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { finishOutputs, runCampaignFinish } from "../../shared/jobs/campaignFinish.js";
import { jobLog } from "../../shared/jobs/runtime.js";
import { toJsonColumns } from "../../shared/storage/jsonColumns.js";
import { contractTimestamp } from "../../shared/domain/time.js";
import type { ImageRecord } from "../../shared/repos/images.js";
import { call, startTestStack, waitFor, type TestStack } from "../support/stack.js";

const IMAGES = 20_000;
let stack: TestStack;
let campaignId: number;

/**
 * A 20,000-image campaign, every image labeled (2 objects) and approved, seeded through the campaign
 * store's own methods (the per-request API path is covered by the other tests; here it would only spend
 * the suite's time budget): images added, labels and review state set in 100-image transactions, and
 * the progress counted.
 */
beforeAll(async () => {
  stack = await startTestStack();
  const created = await call(stack, "POST", "/campaigns", stack.admin, { title: "large", labeler_email: "large@example.com" });
  campaignId = created.body.campaign_id;
  const campaigns = stack.host.services.campaigns;
  const objects = toJsonColumns("objects", [
    { label_original: "car", label_translated: "car", confidence: 1, bounding_box: { xmin: 10, xmax: 110, ymin: 20, ymax: 70 }, polygon: null },
    {
      label_original: "tree",
      label_translated: "tree",
      confidence: null,
      bounding_box: null,
      polygon: [
        [0, 0],
        [40, 0],
        [0, 30],
      ],
    },
  ]);
  const now = contractTimestamp();
  const images: ImageRecord[] = Array.from({ length: IMAGES }, (_, i) => ({
    imageId: i + 1,
    blobPath: `uploads/large/img-${String(i).padStart(5, "0")}.jpg`,
    imagesetId: 1,
    imagesetTitle: "large",
    width: 640,
    height: 480,
    filesize: 1,
    filetype: "JPEG",
    dateTaken: null,
    lat: null,
    lon: null,
  }));
  const seedStart = Date.now();
  await campaigns.addImages(campaignId, images);
  const ids = images.map((i) => i.imageId);
  await campaigns.updateImages(campaignId, ids, () => ({
    ...objects,
    labelStatus: "admin_complete",
    submittedBy: "large@example.com",
    firstLabeledAt: now,
    lastActivityAt: now,
  }));
  console.log(`seeded ${IMAGES} images in ${Date.now() - seedStart} ms`);
  expect(await campaigns.progress(campaignId)).toEqual({ done: IMAGES, total: IMAGES });
  await campaigns.update(campaignId, () => ({ status: "completed" }));
}, 300_000);
afterAll(async () => stack?.stop());

async function exportOf(format: string) {
  const started = await call(stack, "POST", `/campaigns/${campaignId}/exports`, stack.admin, { format });
  const job = await waitFor(
    `${format} export`,
    async () => {
      const r = (await call(stack, "GET", `/exports/${started.body.export_id}`, stack.admin)).body;
      return r.status === "succeeded" || r.status === "failed" ? r : undefined;
    },
    240_000,
  );
  expect(job.status, job.error).toBe("succeeded");
  return { job, file: Buffer.from(await (await fetch(job.download_url)).arrayBuffer()) };
}

describe("a 20,000-image campaign", () => {
  it("exports to COCO and CSV with every image and object counted", async () => {
    const coco = await exportOf("coco");
    expect(coco.job.counts).toEqual({ images: IMAGES, objects: 2 * IMAGES });
    const parsed = JSON.parse(coco.file.toString());
    expect(parsed.images).toHaveLength(IMAGES);
    expect(parsed.annotations).toHaveLength(2 * IMAGES);
    expect(new Set(parsed.annotations.map((a: any) => a.id)).size).toBe(2 * IMAGES);
    expect(parsed.categories.map((c: any) => c.name)).toEqual(["car", "tree"]);
    const csv = await exportOf("csv");
    expect(csv.job.counts).toEqual({ images: IMAGES, objects: 2 * IMAGES });
    expect(csv.file.toString().trimEnd().split("\r\n")).toHaveLength(IMAGES + 1);
  }, 600_000);

  it("finishing killed half-way and resumed ends with complete outputs", async () => {
    await stack.host.services.campaigns.update(campaignId, () => ({ status: "finishing" }));
    const container = stack.host.services.clients.blobService.getContainerClient(stack.config.imageContainer);
    const outputs = finishOutputs("large");
    const child = spawn(process.execPath, ["--import", "tsx", "test/support/runFinishJob.ts", String(campaignId)], {
      env: { ...process.env, STORAGE_CONNECTION_STRING: stack.config.settings.STORAGE_CONNECTION_STRING, RESOURCE_PREFIX: stack.config.prefix },
      stdio: "ignore",
    });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    // Kill it once the label set is committed, while the dataset files are still to come.
    await waitFor("label set written", async () => container.getBlobClient(outputs.labelSet).exists(), 240_000);
    child.kill("SIGKILL");
    await exited;
    expect((await stack.host.services.campaigns.get(campaignId))!.status).toBe("finishing");
    const before = await container.getBlobClient(outputs.labelSet).getProperties();

    // Redelivered twice: the first run completes the rest, the second finds nothing to do.
    await runCampaignFinish(
      stack.host.services,
      campaignId,
      jobLog(() => {}, {}),
    );
    await runCampaignFinish(
      stack.host.services,
      campaignId,
      jobLog(() => {}, {}),
    );
    const campaign = (await call(stack, "GET", `/campaigns/${campaignId}`, stack.admin)).body;
    expect(campaign.status).toBe("finished");
    expect(campaign.date_finished).toMatch(/Z$/);
    // The label set written before the kill was kept, not rewritten.
    expect((await container.getBlobClient(outputs.labelSet).getProperties()).etag).toBe(before.etag);
    const csv = (await container.getBlobClient(outputs.labelSet).downloadToBuffer()).toString();
    expect(csv.trimEnd().split("\r\n")).toHaveLength(IMAGES + 1);
    const imagesTable = (await container.getBlobClient(outputs.imagesTable).downloadToBuffer()).toString();
    expect(imagesTable.match(/- file:/g)).toHaveLength(IMAGES);
    expect(await container.getBlobClient(outputs.labelsTable).exists()).toBe(true);
  }, 600_000);
});
