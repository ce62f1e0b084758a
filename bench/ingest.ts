/**
 * Ingest benchmark: an image set of photo-sized images through the real path (create over HTTP, upload
 * through the SAS dropbox URL, PUT finished, poll until finished), against two baselines on the very same
 * bytes in the same Azurite, both at the job's concurrency (COPY_CONCURRENCY):
 *   - ceiling: server-side `syncCopyFromURL` with a read SAS, nothing else (what the job's copy step costs);
 *   - download + upload: each blob pulled into a Buffer and uploaded again (the naive client-side copy).
 * A diagnostic row adds a 32 KiB header read to each ceiling copy, as the job does, to split the job's gap
 * to the ceiling into header reads and everything else (its table writes and chunking).
 *
 * Run: `npx tsx bench/ingest.ts` (BENCH_IMAGES=100 for a quick check; BENCH_LOG=1 echoes the host's log).
 */
import type { ContainerClient } from "@azure/storage-blob";
import sharp from "sharp";
import { mapLimit } from "../shared/util/concurrency.js";
import {
  envInt,
  expectCall,
  fmt,
  fmtMb,
  fmtMs,
  isMain,
  now,
  perSecond,
  pollUntil,
  printTable,
  runAsScript,
  startBench,
  timed,
  type BenchContext,
} from "./common.js";
import { seededRandom } from "./rng.js";


/**
 * Raw RGB "photo": a two-colour diagonal gradient, some sine texture and noise. `block` > 1 repeats each
 * noise value over a block and `quantum` rounds the levels, so PNGs compress to a realistic size.
 */
function syntheticPixels(width: number, height: number, seed: number, noise: number, block: number, quantum: number): Buffer {
  const next = seededRandom(seed);
  const from = [next() * 255, next() * 255, next() * 255];
  const to = [next() * 255, next() * 255, next() * 255];
  const blocksX = Math.ceil(width / block);
  const noiseField = Float32Array.from({ length: blocksX * Math.ceil(height / block) * 3 }, () => (next() - 0.5) * noise);
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = (x / width + y / height) / 2;
      const at = (y * width + x) * 3;
      const n = (Math.floor(y / block) * blocksX + Math.floor(x / block)) * 3;
      for (let c = 0; c < 3; c++) {
        const v = from[c]! * (1 - t) + to[c]! * t + 40 * Math.sin((x * (c + 1)) / (37 + seed) + y / (53 + c)) + noiseField[n + c]!;
        raw[at + c] = Math.max(0, Math.min(255, Math.round(v / quantum) * quantum));
      }
    }
  }
  return raw;
}

interface SampleImage {
  ext: "jpg" | "png";
  bytes: Buffer;
}

/** A handful of distinct photos: 1920x1080 JPEGs at quality 85 and 1280x960 PNGs (a few hundred KB to ~1 MB each). */
async function sampleImages(jpegs: number, pngs: number): Promise<SampleImage[]> {
  const out: SampleImage[] = [];
  for (let i = 0; i < jpegs; i++) {
    const raw = syntheticPixels(1920, 1080, 100 + i, 30 + 10 * (i % 4), 1, 1);
    out.push({ ext: "jpg", bytes: await sharp(raw, { raw: { width: 1920, height: 1080, channels: 3 } }).jpeg({ quality: 85 }).toBuffer() });
  }
  for (let i = 0; i < pngs; i++) {
    const raw = syntheticPixels(1280, 960, 200 + i, 60, 4, 8);
    out.push({ ext: "png", bytes: await sharp(raw, { raw: { width: 1280, height: 960, channels: 3 } }).png().toBuffer() });
  }
  return out;
}

/** PUT through a SAS container URL, the way any HTTP client uploads to the dropbox. */
async function putViaSas(containerSasUrl: string, name: string, bytes: Buffer): Promise<void> {
  const url = new URL(containerSasUrl);
  url.pathname = `${url.pathname}/${name.split("/").map(encodeURIComponent).join("/")}`;
  const response = await fetch(url, { method: "PUT", headers: { "x-ms-blob-type": "BlockBlob" }, body: bytes as Uint8Array<ArrayBuffer> });
  if (response.status !== 201) throw new Error(`upload of ${name} answered ${response.status}: ${await response.text()}`);
}

/** Prefix the diagnostic variant reads per blob, like the copy job's first header read. */
const HEADER_PROBE_BYTES = 32 * 1024;

interface Variant {
  name: string;
  ms: number;
}

async function freshContainer(ctx: BenchContext, suffix: string): Promise<ContainerClient> {
  const container = ctx.host.services.clients.blobService.getContainerClient(`${ctx.config.prefix}${suffix}`);
  await container.createIfNotExists();
  return container;
}

export async function runIngestBench(log: (line: string) => void): Promise<void> {
  const count = envInt("BENCH_IMAGES", 1000);
  const ctx = await startBench();
  try {
    const { services } = ctx.host;
    const concurrency = ctx.config.settings.COPY_CONCURRENCY;
    log(`ingest bench: ${count} images, COPY_CONCURRENCY ${concurrency}, Azurite in memory on :${ctx.azurite.blobPort}`);

    // Images: a few distinct photos, each uploaded under many names.
    const generated = await timed(() => sampleImages(6, 3));
    const samples = generated.value;
    log(
      `generated ${samples.length} distinct images in ${fmtMs(generated.ms)}: ` +
        samples.map((s) => `${s.ext} ${fmt(s.bytes.length / 1024, 0)} KB`).join(", "),
    );
    const files = Array.from({ length: count }, (_, i) => {
      const sample = samples[i % samples.length]!;
      return { name: `cam-${i % 10}/img-${String(i).padStart(5, "0")}.${sample.ext}`, bytes: sample.bytes };
    });
    const totalBytes = files.reduce((sum, f) => sum + f.bytes.length, 0);
    log(`${count} blobs, ${fmtMb(totalBytes)} in all (${fmt(totalBytes / count / 1024, 0)} KB average)`);

    // The set, over HTTP.
    const title = `bench-${ctx.config.prefix}`;
    const created = await expectCall(ctx, 201, "POST", "/image_sets", ctx.admin, { title });
    const setId = created.imageset_id as number;
    const dropboxUrl = created.dropbox_url as string;

    // Uploads: the dropbox through its SAS URL; the same bytes into a source container for the baselines.
    const source = await freshContainer(ctx, "benchsource");
    const sourceSas = await services.sas.containerUrl(source.containerName, "rw", new Date(Date.now() + 60 * 60_000));
    const upload = await timed(() => mapLimit(files, concurrency, (f) => putViaSas(dropboxUrl, f.name, f.bytes)));
    log(`uploaded to the dropbox through the SAS URL in ${fmtMs(upload.ms)} (${fmt(perSecond(count, upload.ms))} images/s)`);
    await mapLimit(files, concurrency, (f) => putViaSas(sourceSas, f.name, f.bytes));

    // (1) The copy job, end to end: from PUT finished to status finished.
    const jobStart = now();
    await expectCall(ctx, 200, "PUT", `/image_sets/${setId}`, ctx.admin, { new_status: "finished" });
    const finished = await pollUntil(
      "image set finished",
      async () => {
        const set = await expectCall(ctx, 200, "GET", `/image_sets/${setId}`, ctx.admin);
        if (set.status === "failed") throw new Error(`copy job failed: ${set.failure_reason}`);
        return set.status === "finished" ? set : undefined;
      },
      100,
      15 * 60_000,
    );
    const jobMs = now() - jobStart;
    const listed = await expectCall(ctx, 200, "GET", `/image_sets/${setId}/images?per_page=1`, ctx.admin);
    if (listed.pagination.total !== count) throw new Error(`image set holds ${listed.pagination.total} images, expected ${count}`);
    if (finished.rejected_files?.length) throw new Error(`rejected files: ${JSON.stringify(finished.rejected_files).slice(0, 300)}`);
    // The worker's own timing (excludes the queue pick-up delay).
    const doneLine = ctx.logs.find((l) => l.includes('"job":"imageset-copy"') && l.includes("done in"));
    const workerMs = doneLine ? Number(/done in (\d+) ms/.exec(doneLine)?.[1]) : undefined;

    const names = files.map((f) => f.name);
    const variants: Variant[] = [{ name: "copy job (PUT finished -> finished)", ms: jobMs }];
    if (workerMs !== undefined) variants.push({ name: "  copy job, worker run only", ms: workerMs });

    // (2) Ceiling: server-side sync copies alone, same concurrency.
    const readSas = await services.sas.containerUrl(source.containerName, "r", new Date(Date.now() + 60 * 60_000));
    const sasQuery = readSas.slice(readSas.indexOf("?"));
    const ceilingTarget = await freshContainer(ctx, "benchceiling");
    const ceiling = await timed(() =>
      mapLimit(names, concurrency, (name) => ceilingTarget.getBlockBlobClient(name).syncCopyFromURL(`${source.getBlobClient(name).url}${sasQuery}`)),
    );
    variants.push({ name: "ceiling: syncCopyFromURL only", ms: ceiling.ms });
    await ceilingTarget.delete();

    // (2b) Diagnostic: the same copies, each overlapped with a 32 KiB header read + sharp metadata, as the
    // job does per blob; what is left between this and the job is its table work and chunking.
    const headerTarget = await freshContainer(ctx, "benchheader");
    const withHeader = await timed(() =>
      mapLimit(names, concurrency, async (name) => {
        const copy = headerTarget.getBlockBlobClient(name).syncCopyFromURL(`${source.getBlobClient(name).url}${sasQuery}`);
        await sharp(await source.getBlobClient(name).downloadToBuffer(0, HEADER_PROBE_BYTES), { failOn: "none" }).metadata();
        await copy;
      }),
    );
    variants.push({ name: "  syncCopyFromURL + header read", ms: withHeader.ms });
    await headerTarget.delete();

    // (3) Download each blob into a Buffer and upload it, same concurrency.
    const dlTarget = await freshContainer(ctx, "benchdownload");
    const downloadUpload = await timed(() =>
      mapLimit(names, concurrency, async (name) => {
        const bytes = await source.getBlobClient(name).downloadToBuffer();
        await dlTarget.getBlockBlobClient(name).uploadData(bytes);
      }),
    );
    variants.push({ name: "download + upload", ms: downloadUpload.ms });
    await dlTarget.delete();
    await source.delete();

    log("");
    printTable(
      log,
      ["variant", "images", "time", "images/s", "MB/s"],
      variants.map((v) => [v.name, String(count), fmtMs(v.ms), fmt(perSecond(count, v.ms)), fmt(perSecond(totalBytes / (1024 * 1024), v.ms))]),
    );
    log("");
    log(`job / ceiling:           ${fmt(ceiling.ms / jobMs, 2)} (the job runs at ${fmt((100 * ceiling.ms) / jobMs, 0)}% of the copy-only rate)`);
    log(`job / download+upload:   ${fmt(downloadUpload.ms / jobMs, 2)}`);
    if (workerMs !== undefined) {
      log(`worker-only / ceiling:   ${fmt(ceiling.ms / workerMs, 2)}; queue pick-up and polling added ${fmtMs(jobMs - workerMs)}`);
      log(`worker-only / (copy + header read): ${fmt(withHeader.ms / workerMs, 2)} (the rest is the job's table writes and chunking)`);
    }
    const errors = ctx.errorLines();
    if (errors.length) log(`host logged ${errors.length} error/retry lines, first: ${errors[0]!.slice(0, 300)}`);
  } finally {
    await ctx.stop();
  }
}

if (isMain(import.meta.url)) runAsScript(runIngestBench);
