/**
 * Labeling benchmark through the local host:
 *   (a) submission throughput of `PUT /campaigns/{id}/objects` in batches of 100 images (3 boxes each) from
 *       several concurrent clients, on one campaign of 10,000 images;
 *   (b) the lag from the last submission's answer to the campaign showing `status: completed` (the progress
 *       workers draining one message per image), polled every 100 ms.
 * Images are recorded directly through the image store (the copy path is bench/ingest.ts), then added to the
 * campaign over HTTP in requests of at most 10,000 and the campaign activated.
 *
 * Run: `npx tsx bench/labeling.ts` (BENCH_LABEL_IMAGES, BENCH_LABEL_CLIENTS, BENCH_LABEL_BATCH change the size;
 * BENCH_WORKER_CONCURRENCY the host's per-queue worker concurrency; BENCH_LABEL_ORDER=strided submits
 * non-contiguous image ids per batch; BENCH_LOG=1 echoes the host's log).
 */
import type { ImageFacts } from "../shared/repos/images.js";
import { call, envInt, expectCall, fmt, fmtMs, isMain, now, percentile, perSecond, printTable, runAsScript, sleep, startBench, timed } from "./common.js";

const WIDTH = 1920;
const HEIGHT = 1080;
const OBJECTS_PER_IMAGE = 3;
/** Images recorded per `images.record` call while seeding. */
const SEED_CHUNK = 1000;
/**
 * Image refs per `POST /campaigns/{id}/images` (the API takes up to 10,000). Smaller requests stay well
 * inside fetch's 300 s headers timeout: on Azurite 10,000 refs in one request take ~4-5 minutes.
 */
const ADD_CHUNK = 2_500;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Three boxes inside a 1920x1080 image, varied by image id. */
function objectsFor(imageId: number) {
  return Array.from({ length: OBJECTS_PER_IMAGE }, (_, k) => {
    const x = (imageId * 37 + k * 211) % (WIDTH - 300);
    const y = (imageId * 53 + k * 127) % (HEIGHT - 300);
    return {
      label: ["car", "bicycle", "pedestrian"][k % 3]!,
      confidence: 0.5 + k / 10,
      bounding_box: { xmin: x, ymin: y, xmax: x + 120 + k * 20, ymax: y + 80 + k * 30 },
    };
  });
}

export async function runLabelingBench(log: (line: string) => void): Promise<void> {
  const imageCount = envInt("BENCH_LABEL_IMAGES", 10_000);
  const batchSize = envInt("BENCH_LABEL_BATCH", 100);
  const clients = envInt("BENCH_LABEL_CLIENTS", 6);
  const strided = process.env.BENCH_LABEL_ORDER === "strided";
  const workerConcurrency = process.env.BENCH_WORKER_CONCURRENCY ? envInt("BENCH_WORKER_CONCURRENCY", 8) : undefined;
  const ctx = await startBench({ workerConcurrency });
  try {
    const { services } = ctx.host;
    log(
      `labeling bench: ${imageCount} images, batches of ${batchSize} (${OBJECTS_PER_IMAGE} boxes each), ${clients} clients, ` +
        `worker concurrency ${workerConcurrency ?? "host default"}, ${strided ? "strided" : "contiguous"} batches`,
    );

    // Setup: record the images, make the campaign, add them, activate.
    const title = `bench-labeling-${ctx.config.prefix}`;
    const seeded = await timed(async () => {
      const ids: number[] = [];
      for (let start = 0; start < imageCount; start += SEED_CHUNK) {
        const facts: ImageFacts[] = Array.from({ length: Math.min(SEED_CHUNK, imageCount - start) }, (_, i) => ({
          blobPath: `uploads/${title}/img-${String(start + i).padStart(6, "0")}.jpg`,
          imagesetId: 1,
          imagesetTitle: title,
          width: WIDTH,
          height: HEIGHT,
          filesize: 400_000,
          filetype: "JPEG",
          dateTaken: null,
          lat: null,
          lon: null,
        }));
        ids.push(...(await services.images.record(facts)).map((r) => r.imageId));
      }
      return ids;
    });
    const imageIds = seeded.value;
    log(`setup: recorded ${imageIds.length} images in ${fmtMs(seeded.ms)} (${fmt(perSecond(imageIds.length, seeded.ms))} images/s)`);

    const created = await expectCall(ctx, 201, "POST", "/campaigns", ctx.admin, { title, labeler_email: "bench-labeler@example.com" });
    const campaignId = created.campaign_id as number;
    const partner = {
      "Authentication-Key": created.access_token.apikey as string,
      "Authentication-Secret": (created.access_token.apisecret as string | null) ?? "",
    };
    const added = await timed(async () => {
      for (const part of chunks(imageIds, ADD_CHUNK)) {
        await expectCall(
          ctx,
          200,
          "POST",
          `/campaigns/${campaignId}/images`,
          ctx.admin,
          part.map((id) => ({ id })),
        );
      }
    });
    log(`setup: added ${imageIds.length} images to campaign ${campaignId} in ${fmtMs(added.ms)} (${fmt(perSecond(imageIds.length, added.ms))} images/s)`);
    await expectCall(ctx, 200, "PUT", `/campaigns/${campaignId}`, ctx.admin, { new_status: "active" });
    const before = await expectCall(ctx, 200, "GET", `/campaigns/${campaignId}`, ctx.admin);
    if (before.progress.total !== imageCount) throw new Error(`campaign total is ${before.progress.total}, expected ${imageCount}`);

    // (a) Submissions: `clients` loops take the next batch until none are left.
    // Contiguous batches (page order, the usual case) or strided ones (batch k holds every n-th image from k).
    const batchCount = Math.ceil(imageCount / batchSize);
    const groups = strided ? Array.from({ length: batchCount }, (_, k) => imageIds.filter((_, i) => i % batchCount === k)) : chunks(imageIds, batchSize);
    const batches = groups.map((ids) => ids.map((id) => ({ image_id: id, objects: objectsFor(id) })));
    const latencies: number[] = [];
    let next = 0;
    const submitStart = now();
    await Promise.all(
      Array.from({ length: Math.min(clients, batches.length) }, async () => {
        while (next < batches.length) {
          const batch = batches[next++]!;
          const started = now();
          await expectCall(ctx, 200, "PUT", `/campaigns/${campaignId}/objects`, partner, batch);
          latencies.push(now() - started);
          if (latencies.length % 10 === 0) {
            log(`  submitted ${latencies.length}/${batches.length} batches after ${fmtMs(now() - submitStart)} (last batch took ${fmtMs(now() - started)})`);
          }
        }
      }),
    );
    const lastSubmission = now();
    const submitMs = lastSubmission - submitStart;
    const atLast = (await expectCall(ctx, 200, "GET", `/campaigns/${campaignId}`, ctx.admin)).progress.done as number;

    // (b) From the last answer to `completed`, polling every 100 ms; a progress line every 10 s.
    let lastReport = now();
    let polls = 0;
    let slowestPoll = 0;
    let completedAt = 0;
    for (;;) {
      const pollStart = now();
      const r = await call(ctx, "GET", `/campaigns/${campaignId}`, ctx.admin);
      slowestPoll = Math.max(slowestPoll, now() - pollStart);
      polls++;
      if (r.status !== 200) throw new Error(`GET /campaigns/${campaignId} answered ${r.status}`);
      if (r.body.status === "completed") {
        completedAt = now();
        break;
      }
      if (now() - lastReport > 10_000) {
        lastReport = now();
        log(`  draining: done ${r.body.progress.done}/${r.body.progress.total} after ${fmtMs(lastReport - lastSubmission)}`);
      }
      if (now() - lastSubmission > 60 * 60_000) throw new Error(`campaign not completed 60 min after the last submission (${JSON.stringify(r.body.progress)})`);
      await sleep(100);
    }
    const drainMs = completedAt - lastSubmission;
    const after = await expectCall(ctx, 200, "GET", `/campaigns/${campaignId}`, ctx.admin);
    if (after.progress.done !== imageCount) throw new Error(`completed with done ${after.progress.done}, expected ${imageCount}`);

    log("");
    printTable(
      log,
      ["submissions", "value"],
      [
        ["images / batches", `${imageCount} / ${batches.length}`],
        ["clients", String(Math.min(clients, batches.length))],
        ["wall time", fmtMs(submitMs)],
        ["images labeled/s", fmt(perSecond(imageCount, submitMs))],
        ["objects stored/s", fmt(perSecond(imageCount * OBJECTS_PER_IMAGE, submitMs))],
        ["batches/s", fmt(perSecond(batches.length, submitMs), 2)],
        ["batch latency p50", fmtMs(percentile(latencies, 50))],
        ["batch latency p95", fmtMs(percentile(latencies, 95))],
        ["batch latency max", fmtMs(Math.max(...latencies))],
      ],
    );
    log("");
    printTable(
      log,
      ["completion", "value"],
      [
        ["done at last submission", `${atLast}/${imageCount}`],
        ["last submission -> completed", fmtMs(drainMs)],
        ["first submission -> completed", fmtMs(completedAt - submitStart)],
        ["images counted/s (whole run)", fmt(perSecond(imageCount, completedAt - submitStart))],
        ["images counted/s (after last submission)", fmt(perSecond(imageCount - atLast, drainMs))],
        ["polls / slowest poll", `${polls} / ${fmtMs(slowestPoll)}`],
      ],
    );
    const errors = ctx.errorLines();
    if (errors.length) log(`host logged ${errors.length} error/retry lines, first: ${errors[0]!.slice(0, 300)}`);
  } finally {
    await ctx.stop();
  }
}

if (isMain(import.meta.url)) runAsScript(runLabelingBench);
