/**
 * Reads a few entries of a zip on blob storage with HTTP range requests (the export's read SAS URL; blob CORS
 * allows the console's GET with Range): the end record and central directory first, then only the entries
 * asked for. Stored and deflated entries (DecompressionStream), ZIP64 included. Used to show a few masks of a
 * mask export beside their images without downloading the archive.
 */
export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  offset: number;
}

async function range(url: string, start: number, end: number | null): Promise<{ bytes: DataView; total: number }> {
  const response = await fetch(url, { headers: { Range: end === null ? `bytes=-${start}` : `bytes=${start}-${end}` }, cache: "no-store" });
  if (!response.ok) throw new Error(`reading the archive answered ${response.status}`);
  const buffer = await response.arrayBuffer();
  const total = Number(/\/(\d+)$/.exec(response.headers.get("Content-Range") ?? "")?.[1] ?? buffer.byteLength);
  if (response.status === 200 && end !== null) return { bytes: new DataView(buffer, start, Math.min(end + 1, buffer.byteLength) - start), total };
  return { bytes: new DataView(buffer), total };
}

const u64 = (view: DataView, at: number) => Number(view.getBigUint64(at, true));

export async function zipEntries(url: string): Promise<ZipEntry[]> {
  const tailSize = 65_536 + 22 + 20;
  const { bytes: tail, total } = await range(url, tailSize, null);
  let eocd = -1;
  for (let i = tail.byteLength - 22; i >= 0; i--) {
    if (tail.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error("not a zip archive");
  let cdSize = tail.getUint32(eocd + 12, true);
  let cdOffset = tail.getUint32(eocd + 16, true);
  if (cdOffset === 0xffffffff || cdSize === 0xffffffff) {
    const locator = eocd - 20;
    if (locator < 0 || tail.getUint32(locator, true) !== 0x07064b50) throw new Error("ZIP64 locator missing");
    const recordAt = u64(tail, locator + 8);
    const { bytes: record } = await range(url, recordAt, recordAt + 55);
    cdSize = u64(record, 40);
    cdOffset = u64(record, 48);
  }
  const tailStart = total - tail.byteLength;
  const cd =
    cdOffset >= tailStart
      ? new DataView(tail.buffer, tail.byteOffset + (cdOffset - tailStart), cdSize)
      : (await range(url, cdOffset, cdOffset + cdSize - 1)).bytes;
  const decoder = new TextDecoder();
  const entries: ZipEntry[] = [];
  for (let at = 0; at + 46 <= cd.byteLength && cd.getUint32(at, true) === 0x02014b50;) {
    const method = cd.getUint16(at + 10, true);
    let compressedSize = cd.getUint32(at + 20, true);
    const size = cd.getUint32(at + 24, true);
    const nameLength = cd.getUint16(at + 28, true);
    const extraLength = cd.getUint16(at + 30, true);
    const commentLength = cd.getUint16(at + 32, true);
    let offset = cd.getUint32(at + 42, true);
    const name = decoder.decode(new Uint8Array(cd.buffer, cd.byteOffset + at + 46, nameLength));
    // ZIP64 extra field: the 0xFFFFFFFF values, in order uncompressed size, compressed size, offset.
    for (let e = at + 46 + nameLength; e + 4 <= at + 46 + nameLength + extraLength;) {
      const id = cd.getUint16(e, true);
      const length = cd.getUint16(e + 2, true);
      if (id === 1) {
        let p = e + 4;
        if (size === 0xffffffff) p += 8;
        if (compressedSize === 0xffffffff) {
          compressedSize = u64(cd, p);
          p += 8;
        }
        if (offset === 0xffffffff) offset = u64(cd, p);
      }
      e += 4 + length;
    }
    entries.push({ name, method, compressedSize, offset });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

export async function zipEntryBlob(url: string, entry: ZipEntry, type: string): Promise<Blob> {
  const { bytes: header } = await range(url, entry.offset, entry.offset + 29);
  if (header.getUint32(0, true) !== 0x04034b50) throw new Error(`no local header for ${entry.name}`);
  const start = entry.offset + 30 + header.getUint16(26, true) + header.getUint16(28, true);
  const { bytes } = await range(url, start, start + entry.compressedSize - 1);
  const data = new Blob([new Uint8Array(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength)]);
  if (entry.method === 0) return new Blob([data], { type });
  if (entry.method !== 8) throw new Error(`${entry.name}: compression method ${entry.method} is not supported`);
  const inflated = await new Response(data.stream().pipeThrough(new DecompressionStream("deflate-raw"))).arrayBuffer();
  return new Blob([inflated], { type });
}
