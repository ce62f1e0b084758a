import { once } from "node:events";
import { PassThrough, Readable, Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import zlib from "node:zlib";

/**
 * A streaming zip writer: entries go in one at a time, their bytes come out of `output` as they are added, and the
 * archive is never held whole.
 *
 * Why not yazl: it scans its whole entry list each time an entry finishes (quadratic in the entry count) and pipes
 * every entry through five streams and a thread-pool deflate, which cost ~0.3-0.5 ms per entry and grew with the
 * archive (40,000 label files: 21 s). Label exports are many tiny files, so this writer deflates buffers in one
 * synchronous call and keeps only a small central-directory record per entry (the zip format needs it at the end).
 *
 * Backpressure: each `add*` resolves once its bytes are accepted by `output`, waiting while `output` is full, so
 * `await`ing each call bounds memory to about one entry plus stream buffers. Format: PKZIP 2.0 entries (deflate or
 * stored, UTF-8 names), data descriptors for stream entries, ZIP64 records once sizes, offsets or the entry count
 * exceed the classic limits (or always, with `forceZip64`).
 */
export interface ZipWriterOptions {
  /** Modification time of every entry (default: now); pass a fixed date for reproducible archives. */
  mtime?: Date;
  /** zlib level 0-9 (default 6); 0 stores entries uncompressed. */
  compressionLevel?: number;
  /** Write ZIP64 central-directory fields and end records even when not needed (for tests). */
  forceZip64?: boolean;
}

interface CentralRecord {
  /**
   * Kept as a string and encoded when written: a small Buffer is a slice of a shared 8 KiB pool slab, and keeping
   * one per entry would pin every slab (with the entry data allocated beside it) until the archive ends.
   */
  name: string;
  crc: number;
  compressedSize: number;
  uncompressedSize: number;
  offset: number;
  method: number;
  flags: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_DESCRIPTOR = 0x08074b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_ZIP64_END = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_END = 0x06054b50;
const FLAG_DESCRIPTOR = 0x0008;
const FLAG_UTF8 = 0x0800;
const METHOD_STORE = 0;
const METHOD_DEFLATE = 8;
const MAX32 = 0xffffffff;
const MAX16 = 0xffff;
/** "Made by" Unix, spec 4.5, so the external attributes below read as a Unix mode. */
const VERSION_MADE_BY = (3 << 8) | 45;
const FILE_ATTRIBUTES = (0o100644 << 16) >>> 0;

/**
 * The streaming zip writer described above ZipWriterOptions: pipe `output` somewhere, add entries (calls run
 * in order, one at a time), then `finish()`; an entry that fails half-written aborts the whole archive.
 */
export class ZipWriter {
  /** The archive bytes. Pipe it somewhere before (or while) adding entries, or adding will wait. */
  readonly output = new PassThrough();
  private readonly level: number;
  private readonly forceZip64: boolean;
  private readonly dosTime: number;
  private readonly dosDate: number;
  private readonly records: CentralRecord[] = [];
  private cursor = 0;
  private tail: Promise<void> = Promise.resolve();
  private failure: Error | null = null;
  private readonly failed: Promise<never>;
  private rejectFailed: (error: Error) => void = () => undefined;
  private finishing = false;

  constructor(options: ZipWriterOptions = {}) {
    this.level = options.compressionLevel ?? 6;
    this.forceZip64 = options.forceZip64 ?? false;
    [this.dosDate, this.dosTime] = dosDateTime(options.mtime ?? new Date());
    this.failed = new Promise<never>((_, reject) => {
      this.rejectFailed = reject;
    });
    this.failed.catch(() => undefined); // observed through the add/finish promises
    // The consumer went away (e.g. a pipeline destroyed `output`): pending adds must not wait forever.
    this.output.once("close", () => {
      if (!this.output.writableFinished) this.fail(new Error("zip output closed before the archive was complete"));
    });
    this.output.once("error", (error) => this.fail(error));
  }

  /** Adds a file from memory: deflated when that makes it smaller, else stored. */
  addBuffer(name: string, data: Buffer | string): Promise<void> {
    return this.enqueue(async () => {
      checkEntryName(name);
      const content = typeof data === "string" ? Buffer.from(data, "utf8") : data;
      if (content.length >= MAX32) throw new Error(`zip entry ${name} is too large for addBuffer; use addStream`);
      const deflated = this.level > 0 && content.length > 0 ? zlib.deflateRawSync(content, { level: this.level }) : null;
      const useDeflate = deflated !== null && deflated.length < content.length;
      const record: CentralRecord = {
        name,
        crc: crc32(content),
        compressedSize: useDeflate ? deflated.length : content.length,
        uncompressedSize: content.length,
        offset: this.cursor,
        method: useDeflate ? METHOD_DEFLATE : METHOD_STORE,
        flags: FLAG_UTF8,
      };
      const header = this.localHeader(record);
      await this.write(Buffer.concat([header, useDeflate ? deflated : content]));
      this.records.push(record);
    });
  }

  /** Adds a file from a stream (deflated unless the level is 0); resolves when the stream is fully written. */
  addStream(name: string, stream: Readable | NodeJS.ReadableStream): Promise<void> {
    return this.enqueue(async () => {
      try {
        checkEntryName(name);
      } catch (error) {
        (stream as Partial<Readable>).destroy?.();
        throw error;
      }
      const record: CentralRecord = {
        name,
        crc: 0,
        compressedSize: 0,
        uncompressedSize: 0,
        offset: this.cursor,
        method: this.level > 0 ? METHOD_DEFLATE : METHOD_STORE,
        flags: FLAG_UTF8 | FLAG_DESCRIPTOR,
      };
      try {
        await this.write(this.localHeader(record));
        const measure = new CrcCounter();
        const write = async (source: AsyncIterable<Buffer>): Promise<void> => {
          for await (const chunk of source) {
            record.compressedSize += chunk.length;
            await this.write(chunk);
          }
        };
        if (record.method === METHOD_DEFLATE) {
          await pipeline(stream, measure, zlib.createDeflateRaw({ level: this.level }), write);
        } else {
          await pipeline(stream, measure, write);
        }
        record.crc = measure.crc;
        record.uncompressedSize = measure.bytes;
        await this.write(dataDescriptor(record));
        this.records.push(record);
      } catch (error) {
        // Half an entry is already in `output`: the archive cannot be completed.
        this.abort(asError(error));
        throw error;
      }
    });
  }

  /** Writes the central directory and ends `output`; resolves once the last byte is handed to `output`. */
  finish(): Promise<void> {
    return this.enqueue(async () => {
      this.finishing = true;
      const centralStart = this.cursor;
      const parts: Buffer[] = [];
      let pending = 0;
      for (const record of this.records) {
        const part = this.centralHeader(record);
        parts.push(part);
        pending += part.length;
        if (pending >= 64 * 1024) {
          await this.write(Buffer.concat(parts));
          parts.length = 0;
          pending = 0;
        }
      }
      if (parts.length > 0) await this.write(Buffer.concat(parts));
      await this.write(this.endRecords(centralStart, this.cursor - centralStart));
      this.output.end();
      await Promise.race([once(this.output, "finish"), this.failed]);
    });
  }

  /** Fails pending and later calls and destroys `output` with `error`. */
  abort(error: Error): void {
    this.fail(error);
    if (!this.output.destroyed) this.output.destroy(error);
  }

  /** Entries written so far. */
  get entryCount(): number {
    return this.records.length;
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    this.rejectFailed(error);
  }

  /** Runs entry operations strictly in order, so callers that forget to await still get a valid archive. */
  private enqueue(operation: () => Promise<void>): Promise<void> {
    const run = this.tail.then(() => {
      if (this.failure) throw this.failure;
      if (this.finishing) throw new Error("zip archive already finished");
      return operation();
    });
    this.tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async write(chunk: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    this.cursor += chunk.length;
    if (!this.output.write(chunk)) await Promise.race([once(this.output, "drain"), this.failed]);
  }

  private localHeader(record: CentralRecord): Buffer {
    const streamed = (record.flags & FLAG_DESCRIPTOR) !== 0;
    const name = Buffer.from(record.name, "utf8");
    const header = Buffer.alloc(30 + name.length);
    header.writeUInt32LE(SIG_LOCAL, 0);
    header.writeUInt16LE(20, 4); // version needed: 2.0 (deflate); ZIP64 sizes only ever go in the data descriptor
    header.writeUInt16LE(record.flags, 6);
    header.writeUInt16LE(record.method, 8);
    header.writeUInt16LE(this.dosTime, 10);
    header.writeUInt16LE(this.dosDate, 12);
    header.writeUInt32LE(streamed ? 0 : record.crc, 14);
    header.writeUInt32LE(streamed ? 0 : record.compressedSize, 18);
    header.writeUInt32LE(streamed ? 0 : record.uncompressedSize, 22);
    header.writeUInt16LE(name.length, 26);
    header.writeUInt16LE(0, 28);
    name.copy(header, 30);
    return header;
  }

  private centralHeader(record: CentralRecord): Buffer {
    // ZIP64 extra: only the fields whose 32-bit slot overflows, in the order the spec fixes.
    const wide: number[] = [];
    const big = (value: number) => this.forceZip64 || value >= MAX32;
    if (big(record.uncompressedSize)) wide.push(record.uncompressedSize);
    if (big(record.compressedSize)) wide.push(record.compressedSize);
    if (big(record.offset)) wide.push(record.offset);
    const extra = Buffer.alloc(wide.length > 0 ? 4 + 8 * wide.length : 0);
    if (wide.length > 0) {
      extra.writeUInt16LE(0x0001, 0);
      extra.writeUInt16LE(8 * wide.length, 2);
      wide.forEach((value, i) => extra.writeBigUInt64LE(BigInt(value), 4 + 8 * i));
    }
    const name = Buffer.from(record.name, "utf8");
    const header = Buffer.alloc(46 + name.length + extra.length);
    header.writeUInt32LE(SIG_CENTRAL, 0);
    header.writeUInt16LE(VERSION_MADE_BY, 4);
    header.writeUInt16LE(wide.length > 0 ? 45 : 20, 6);
    header.writeUInt16LE(record.flags, 8);
    header.writeUInt16LE(record.method, 10);
    header.writeUInt16LE(this.dosTime, 12);
    header.writeUInt16LE(this.dosDate, 14);
    header.writeUInt32LE(record.crc, 16);
    header.writeUInt32LE(big(record.compressedSize) ? MAX32 : record.compressedSize, 20);
    header.writeUInt32LE(big(record.uncompressedSize) ? MAX32 : record.uncompressedSize, 24);
    header.writeUInt16LE(name.length, 28);
    header.writeUInt16LE(extra.length, 30);
    header.writeUInt16LE(0, 32); // comment length
    header.writeUInt16LE(0, 34); // disk number start
    header.writeUInt16LE(0, 36); // internal attributes
    header.writeUInt32LE(FILE_ATTRIBUTES, 38);
    header.writeUInt32LE(big(record.offset) ? MAX32 : record.offset, 42);
    name.copy(header, 46);
    extra.copy(header, 46 + name.length);
    return header;
  }

  private endRecords(centralStart: number, centralSize: number): Buffer {
    const count = this.records.length;
    const zip64 = this.forceZip64 || count >= MAX16 || centralStart >= MAX32 || centralSize >= MAX32;
    const parts: Buffer[] = [];
    if (zip64) {
      const end64 = Buffer.alloc(56);
      end64.writeUInt32LE(SIG_ZIP64_END, 0);
      end64.writeBigUInt64LE(44n, 4); // size of the rest of this record
      end64.writeUInt16LE(VERSION_MADE_BY, 12);
      end64.writeUInt16LE(45, 14);
      end64.writeUInt32LE(0, 16); // this disk
      end64.writeUInt32LE(0, 20); // disk with the central directory
      end64.writeBigUInt64LE(BigInt(count), 24);
      end64.writeBigUInt64LE(BigInt(count), 32);
      end64.writeBigUInt64LE(BigInt(centralSize), 40);
      end64.writeBigUInt64LE(BigInt(centralStart), 48);
      const locator = Buffer.alloc(20);
      locator.writeUInt32LE(SIG_ZIP64_LOCATOR, 0);
      locator.writeUInt32LE(0, 4);
      locator.writeBigUInt64LE(BigInt(centralStart + centralSize), 8);
      locator.writeUInt32LE(1, 16); // total disks
      parts.push(end64, locator);
    }
    const end = Buffer.alloc(22);
    end.writeUInt32LE(SIG_END, 0);
    end.writeUInt16LE(0, 4);
    end.writeUInt16LE(0, 6);
    end.writeUInt16LE(zip64 ? MAX16 : count, 8);
    end.writeUInt16LE(zip64 ? MAX16 : count, 10);
    end.writeUInt32LE(zip64 ? MAX32 : centralSize, 12);
    end.writeUInt32LE(zip64 ? MAX32 : centralStart, 16);
    end.writeUInt16LE(0, 20);
    parts.push(end);
    return Buffer.concat(parts);
  }
}

function dataDescriptor(record: CentralRecord): Buffer {
  const wide = record.compressedSize >= MAX32 || record.uncompressedSize >= MAX32;
  const descriptor = Buffer.alloc(wide ? 24 : 16);
  descriptor.writeUInt32LE(SIG_DESCRIPTOR, 0);
  descriptor.writeUInt32LE(record.crc, 4);
  if (wide) {
    descriptor.writeBigUInt64LE(BigInt(record.compressedSize), 8);
    descriptor.writeBigUInt64LE(BigInt(record.uncompressedSize), 16);
  } else {
    descriptor.writeUInt32LE(record.compressedSize, 8);
    descriptor.writeUInt32LE(record.uncompressedSize, 12);
  }
  return descriptor;
}

/** Passes bytes through while computing their CRC-32 and count. */
class CrcCounter extends Transform {
  crc = 0;
  bytes = 0;
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.crc = crc32(chunk, this.crc);
    this.bytes += chunk.length;
    callback(null, chunk);
  }
}

/**
 * Makes a storage path usable as a zip entry name: `\` becomes `/`, leading `/` and empty or `.` segments are
 * dropped. Returns null when nothing is left, or when a `..` segment or a drive letter would let the entry escape
 * the extraction folder.
 */
export function safeEntryPath(path: string): string | null {
  const segments = path
    .replace(/\\/g, "/")
    .split("/")
    .filter((segment) => segment !== "" && segment !== ".");
  if (segments.length === 0 || segments.includes("..") || /^[a-zA-Z]:$/.test(segments[0]!)) return null;
  return segments.join("/");
}

function checkEntryName(name: string): void {
  if (safeEntryPath(name) !== name) throw new Error(`invalid zip entry name ${JSON.stringify(name)}`);
  const length = Buffer.byteLength(name, "utf8");
  if (length > MAX16) throw new Error(`zip entry name too long (${length} bytes)`);
}

/** MS-DOS date and time words (local time, 2-second resolution, years 1980-2107). */
function dosDateTime(date: Date): [number, number] {
  const year = Math.min(Math.max(date.getFullYear(), 1980), 2107);
  const dosDate = ((year - 1980) << 9) | ((date.getMonth() + 1) << 5) | date.getDate();
  const dosTime = (date.getHours() << 11) | (date.getMinutes() << 5) | Math.floor(date.getSeconds() / 2);
  return [dosDate, dosTime];
}

let crcTable: Int32Array | undefined;
const nativeCrc32 = (zlib as { crc32?: (data: Buffer, value?: number) => number }).crc32;

/** CRC-32 (zip's polynomial); zlib.crc32 where Node has it (>= 20.15), a table otherwise. */
function crc32(data: Buffer, previous = 0): number {
  return nativeCrc32 ? nativeCrc32(data, previous) : portableCrc32(data, previous);
}

/** Table-driven CRC-32 for Node versions without zlib.crc32; continues from `previous` like zlib's. */
export function portableCrc32(data: Buffer, previous = 0): number {
  if (!crcTable) {
    crcTable = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c;
    }
  }
  let crc = ~previous;
  for (let i = 0; i < data.length; i++) crc = crcTable[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
