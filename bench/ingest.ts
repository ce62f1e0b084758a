/**
 * Ingest benchmark, on the stack as `npm start` runs it (Azurite with its data on disk and blob metadata
 * in PostgreSQL): image sets through the real path (create over HTTP, upload through the SAS dropbox URL,
 * PUT finished, poll until finished), a small one (BENCH_IMAGES_SMALL, 1,000) and a large one
 * (BENCH_IMAGES, 20,000), whose rates from upload to finished are compared. For the large set, two
 * baselines on the very same bytes in the same Azurite, both at the job's concurrency (COPY_CONCURRENCY):
 *   - ceiling: server-side copies with a read SAS (the copy the job makes), nothing else;
 *   - download + upload: each blob pulled into a Buffer and uploaded again (the naive client-side copy).
 * Images are 640x480 by default; BENCH_PHOTOS=1 makes them photo-sized (1920x1080 JPEGs, 1280x960 PNGs).
 *
 * Run: `npx tsx bench/ingest.ts` (BENCH_IMAGES=2000 for a quick check; BENCH_LOG=1 echoes the host's log).
 */
import type { ContainerClient } from "@azure/storage-blob";
import sharp from "sharp";
import { copyBlob } from "../shared/storage/blobCopy.js";
import { mapLimit } from "../shared/util/concurrency.js";
import { envInt, expectCall, fmt, fmtMs, isMain, now, perSecond, pollUntil, printTable, runAsScript, startBench, timed, type BenchContext } from "./common.js";
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

/** A handful of distinct images: JPEGs at quality 85 and PNGs, photo-sized (a few hundred KB to ~1 MB) or 640x480. */
async function sampleImages(jpegs: number, pngs: number, photos: boolean): Promise<SampleImage[]> {
  const [jw, jh, pw, ph] = photos ? [1920, 1080, 1280, 960] : [640, 480, 640, 480];
  const out: SampleImage[] = [];
  for (let i = 0; i < jpegs; i++) {
    const raw = syntheticPixels(jw, jh, 100 + i, 30 + 10 * (i % 4), 1, 1);
    out.push({
      ext: "jpg",
      bytes: await sharp(raw, { raw: { width: jw, height: jh, channels: 3 } })
        .jpeg({ quality: 85 })
        .toBuffer(),
    });
  }
  for (let i = 0; i < pngs; i++) {
    const raw = syntheticPixels(pw, ph, 200 + i, 60, 4, 8);
    out.push({
      ext: "png",
      bytes: await sharp(raw, { raw: { width: pw, height: ph, channels: 3 } })
        .png()
        .toBuffer(),
    });
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

async function freshContainer(ctx: BenchContext, suffix: string): Promise<ContainerClient> {
  const container = ctx.host.services.clients.blobService.getContainerClient(`${ctx.config.prefix}${suffix}`);
  await container.createIfNotExists();
  return container;
}

interface SetRun {
  count: number;
  uploadMs: number;
  jobMs: number;
  workerMs: number | undefined;
}

/** One image set through the real path: create, upload through the SAS URL, finish, wait. */
async function ingestSet(ctx: BenchContext, title: string, files: Array<{ name: string; bytes: Buffer }>, log: (line: string) => void): Promise<SetRun> {
  const concurrency = ctx.config.settings.COPY_CONCURRENCY;
  const created = await expectCall(ctx, 201, "POST", "/image_sets", ctx.admin, { title });
  const setId = created.imageset_id as number;
  const upload = await timed(() => mapLimit(files, concurrency, (f) => putViaSas(created.dropbox_url as string, f.name, f.bytes)));
  log(`  ${files.length} images: uploaded through the SAS URL in ${fmtMs(upload.ms)} (${fmt(perSecond(files.length, upload.ms))} images/s)`);
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
    60 * 60_000,
  );
  const jobMs = now() - jobStart;
  if (finished.image_count !== files.length) throw new Error(`image set holds ${finished.image_count} images, expected ${files.length}`);
  if (finished.rejected_files?.length) throw new Error(`rejected files: ${JSON.stringify(finished.rejected_files).slice(0, 300)}`);
  const doneLine = ctx.logs.find((l) => l.includes('"job":"imageset-copy"') && l.includes(`imageset/${setId}"`) && l.includes("done in"));
  const workerMs = doneLine ? Number(/done in (\d+) ms/.exec(doneLine)?.[1]) : undefined;
  log(`  ${files.length} images: copied and recorded in ${fmtMs(jobMs)} (${fmt(perSecond(files.length, jobMs))} images/s)`);
  return { count: files.length, uploadMs: upload.ms, jobMs, workerMs };
}

export async function runIngestBench(log: (line: string) => void): Promise<void> {
  const count = envInt("BENCH_IMAGES", 20_000);
  const smallCount = envInt("BENCH_IMAGES_SMALL", 1_000);
  const photos = process.env.BENCH_PHOTOS === "1";
  const ctx = await startBench({ asLocalStack: true });
  try {
    const { services } = ctx.host;
    const concurrency = ctx.config.settings.COPY_CONCURRENCY;
    log(
      `ingest bench on the local stack (Azurite on disk, blob metadata in PostgreSQL): sets of ${smallCount} and ${count} images, COPY_CONCURRENCY ${concurrency}`,
    );
    const generated = await timed(() => sampleImages(6, 3, photos));
    const samples = generated.value;
    log(
      `generated ${samples.length} distinct images in ${fmtMs(generated.ms)}: ${samples.map((s) => `${s.ext} ${fmt(s.bytes.length / 1024, 0)} KB`).join(", ")}`,
    );
    const filesOf = (n: number) =>
      Array.from({ length: n }, (_, i) => {
        const sample = samples[i % samples.length]!;
        return { name: `cam-${i % 10}/img-${String(i).padStart(6, "0")}.${sample.ext}`, bytes: sample.bytes };
      });

    const small = await ingestSet(ctx, `bench-small-${ctx.config.prefix}`, filesOf(smallCount), log);
    const files = filesOf(count);
    const totalBytes = files.reduce((sum, f) => sum + f.bytes.length, 0);
    const large = await ingestSet(ctx, `bench-large-${ctx.config.prefix}`, files, log);

    // Baselines on the large set's bytes, in a source container of their own.
    const source = await freshContainer(ctx, "benchsource");
    const sourceSas = await services.sas.containerUrl(source.containerName, "rw", new Date(Date.now() + 60 * 60_000));
    await mapLimit(files, concurrency, (f) => putViaSas(sourceSas, f.name, f.bytes));
    const names = files.map((f) => f.name);
    const readSas = await services.sas.containerUrl(source.containerName, "r", new Date(Date.now() + 60 * 60_000));
    const sasQuery = readSas.slice(readSas.indexOf("?"));
    const ceilingTarget = await freshContainer(ctx, "benchceiling");
    const ceiling = await timed(() =>
      mapLimit(names, concurrency, (name) => copyBlob(ceilingTarget.getBlockBlobClient(name), `${source.getBlobClient(name).url}${sasQuery}`)),
    );
    await ceilingTarget.delete();
    const dlTarget = await freshContainer(ctx, "benchdownload");
    const downloadUpload = await timed(() =>
      mapLimit(names, concurrency, async (name) => {
        const bytes = await source.getBlobClient(name).downloadToBuffer();
        await dlTarget.getBlockBlobClient(name).uploadData(bytes);
      }),
    );
    await dlTarget.delete();
    await source.delete();

    const rate = (run: SetRun) => perSecond(run.count, run.uploadMs + run.jobMs);
    log("");
    printTable(
      log,
      ["image set", "upload images/s", "copy job images/s", "upload -> finished images/s"],
      [small, large].map((run) => [`${run.count} images`, fmt(perSecond(run.count, run.uploadMs)), fmt(perSecond(run.count, run.jobMs)), fmt(rate(run))]),
    );
    log(`large / small, upload -> finished: ${fmt(rate(large) / rate(small), 2)}`);
    log("");
    printTable(
      log,
      ["variant", "images", "time", "images/s", "MB/s"],
      [
        ["copy job (PUT finished -> finished)", large.jobMs],
        ...(large.workerMs !== undefined ? [["  copy job, worker run only", large.workerMs] as [string, number]] : []),
        ["ceiling: server-side copies only", ceiling.ms],
        ["download + upload", downloadUpload.ms],
      ].map(([name, ms]) => [
        name as string,
        String(count),
        fmtMs(ms as number),
        fmt(perSecond(count, ms as number)),
        fmt(perSecond(totalBytes / (1024 * 1024), ms as number)),
      ]),
    );
    log("");
    log(`job / ceiling:           ${fmt(ceiling.ms / large.jobMs, 2)} (the job runs at ${fmt((100 * ceiling.ms) / large.jobMs, 0)}% of the copy-only rate)`);
    log(`job / download+upload:   ${fmt(downloadUpload.ms / large.jobMs, 2)}`);
    const errors = ctx.errorLines();
    if (errors.length) log(`host logged ${errors.length} error/retry lines, first: ${errors[0]!.slice(0, 300)}`);
  } finally {
    await ctx.stop();
  }
}

if (isMain(import.meta.url)) runAsScript(runIngestBench);
