import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ZipWriter } from "../zip.js";
import { cocoExport } from "./coco.js";
import { type FormatContext, StatsCollector, utf8Chunks } from "./common.js";
import { csvExport } from "./csv.js";
import { jsonExport } from "./json.js";
import type { ExportFormat, ExportOptions, ExportSource, ExportStats, WriteExportOptions } from "./types.js";
import { vocExport } from "./voc.js";
import { yoloExport } from "./yolo.js";

export * from "./types.js";
export { CSV_COLUMNS, csvField } from "./csv.js";
export { compareCodePoints } from "./common.js";
export { vocBox, vocXml, xmlText } from "./voc.js";
export { yoloDataYaml } from "./yolo.js";

/*
 * Streaming label exporters. Every format reads the source image by image and writes as it goes, pausing while the
 * destination is full. Memory holds one image's objects, the label set, and for the zip formats one entry name and
 * one ~100-byte central-directory record per image (the zip format needs both); nothing grows with the number of
 * objects. A malformed stored object is skipped and reported in `ExportStats.warnings`; it never aborts the export.
 * Format details (fields, ordering, rounding) are documented beside each writer: csv.ts, json.ts, coco.ts, yolo.ts,
 * voc.ts.
 */

type TextWriter = (source: ExportSource, context: FormatContext) => AsyncIterable<string>;
type ZipFormatWriter = (source: ExportSource, zip: ZipWriter, context: FormatContext) => Promise<void>;

const TEXT_WRITERS: Partial<Record<ExportFormat, TextWriter>> = { csv: csvExport, json: jsonExport, coco: cocoExport };
const ZIP_WRITERS: Partial<Record<ExportFormat, ZipFormatWriter>> = { yolo: yoloExport, voc: vocExport };

/** The download's file extension: CSV, JSON and COCO are one file, YOLO and VOC a zip of files. */
export function exportFileExtension(format: ExportFormat): ".csv" | ".json" | ".zip" {
  switch (format) {
    case "csv":
      return ".csv";
    case "json":
    case "coco":
      return ".json";
    case "yolo":
    case "voc":
      return ".zip";
  }
}

/** The Content-Type the export blob is stored (and downloaded) with. */
export function exportContentType(format: ExportFormat): string {
  return { ".csv": "text/csv; charset=utf-8", ".json": "application/json", ".zip": "application/zip" }[exportFileExtension(format)];
}

export interface ExportStream {
  /** The export's bytes; read it (e.g. pipe it to a file or a blob upload) to drive the export. */
  stream: Readable;
  /**
   * Settles once the whole export has been handed to `stream` (its reader may still be draining the last buffered
   * bytes); rejects when the export failed or the stream was closed early.
   */
  stats: Promise<ExportStats>;
}

/** Starts an export as a byte stream, for consumers that take a Readable (e.g. `BlockBlobClient.uploadStream`). */
export function createExportStream(format: ExportFormat, source: ExportSource, options: ExportOptions = {}): ExportStream {
  const collector = new StatsCollector(options.maxWarnings);
  const context: FormatContext = { stats: collector, options, now: options.now ?? new Date() };
  let settle!: { resolve: (stats: ExportStats) => void; reject: (error: unknown) => void };
  const stats = new Promise<ExportStats>((resolve, reject) => {
    settle = { resolve, reject };
  });
  stats.catch(() => undefined); // callers that only consume the stream must not see an unhandled rejection

  const textWriter = TEXT_WRITERS[format];
  if (textWriter) {
    async function* run(): AsyncGenerator<Buffer> {
      let done = false;
      try {
        yield* utf8Chunks(textWriter!(source, context));
        done = true;
        settle.resolve(collector.result());
      } catch (error) {
        settle.reject(error);
        throw error;
      } finally {
        if (!done) settle.reject(new Error("export stream was closed before the export completed"));
      }
    }
    return { stream: Readable.from(run(), { objectMode: false }), stats };
  }

  const zipWriter = ZIP_WRITERS[format];
  if (!zipWriter) throw new Error(`unknown export format ${JSON.stringify(format)}`);
  const zip = new ZipWriter({ mtime: context.now });
  void (async () => {
    try {
      await zipWriter(source, zip, context);
      await zip.finish();
      settle.resolve(collector.result());
    } catch (error) {
      zip.abort(error instanceof Error ? error : new Error(String(error)));
      settle.reject(error);
    }
  })();
  return { stream: zip.output, stats };
}

/** Writes a whole export to `out` (ending it unless `end: false`) and returns what was written. */
export async function writeExport(
  format: ExportFormat,
  source: ExportSource,
  out: NodeJS.WritableStream,
  options: WriteExportOptions = {},
): Promise<ExportStats> {
  const { stream, stats } = createExportStream(format, source, options);
  await pipeline(stream, out, { end: options.end ?? true });
  return stats;
}
