import type { BlobClient, BlockBlobClient, ContainerClient } from "@azure/storage-blob";
import type { RelativePath } from "../domain/inputRules.js";
import { copyBlob } from "./blobCopy.js";
import { statusOf } from "./tableErrors.js";

/** A range of a blob's bytes, read from one version of it (named by its ETag). */
export interface BlobRange {
  bytes: Buffer;
  etag: string;
  /** Size of the whole blob (this version), whatever part was read. */
  size: number;
}

/** ETags come quoted from reads and bare from listings; compared in one form. */
const bareEtag = (etag: string | undefined) => String(etag ?? "").replace(/^"|"$/g, "");
/** Conditions take the quoted form, as HTTP has it. */
const quotedEtag = (etag: string) => `"${etag}"`;

/** The blob at `container/name`, refusing any name the SDK did not keep as given (e.g. one that URL normalisation changed). */
function confinedBlob(container: ContainerClient, name: string): BlockBlobClient {
  const client = container.getBlockBlobClient(name);
  // The SDK parses the container and blob name back from the URL it built; a '.' or '..' segment would have been
  // normalised away there. Names are validated before they get here, so this only guards against a missed case.
  if (client.containerName !== container.containerName || client.name !== name) {
    throw new RangeError(`blob name ${JSON.stringify(name)} would address ${client.containerName}/${client.name}, outside ${container.containerName}`);
  }
  return client;
}

async function readAll(stream: NodeJS.ReadableStream | undefined): Promise<Buffer> {
  const chunks: Buffer[] = [];
  if (stream) for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * A dropbox container as the copy job may use it: list, read one version of a blob, sign a read URL for a
 * server-side copy, and delete the whole container at the end. Every blob it touches is addressed by a
 * validated relative name inside this container; it has no way to write or to reach another container.
 */
export class DropboxScope {
  constructor(
    private readonly container: ContainerClient,
    private readonly readSasQuery: () => Promise<string>,
  ) {}

  get name(): string {
    return this.container.containerName;
  }

  exists(): Promise<boolean> {
    return this.container.exists();
  }

  /** Pages of `{ name, etag, size }` as stored (names unvalidated: callers check them before use). */
  async *list(pageSize: number): AsyncIterable<Array<{ name: string; etag: string; size: number }>> {
    for await (const page of this.container.listBlobsFlat().byPage({ maxPageSize: pageSize })) {
      yield page.segment.blobItems.map((b) => ({ name: b.name, etag: bareEtag(b.properties.etag), size: b.properties.contentLength ?? 0 }));
    }
  }

  /** Bytes `[0, count)` (all when count is undefined) of the version with `etag`, or of the current one when etag is undefined. */
  async read(name: RelativePath, count: number | undefined, etag?: string): Promise<BlobRange> {
    let response;
    try {
      response = await confinedBlob(this.container, name).download(0, count, etag ? { conditions: { ifMatch: quotedEtag(etag) } } : {});
    } catch (error) {
      if (statusOf(error) === 412) throw new SourceChangedError(name);
      if (statusOf(error) === 404 && (error as { code?: string }).code === "BlobNotFound") throw new SourceGoneError(name);
      throw error;
    }
    const total = /\/(\d+)$/.exec(response.contentRange ?? "")?.[1];
    return { bytes: await readAll(response.readableStreamBody), etag: bareEtag(response.etag), size: Number(total ?? response.contentLength ?? 0) };
  }

  /** A URL a server-side copy can read the blob from (short-lived, read-only). */
  async sourceUrl(name: RelativePath): Promise<string> {
    return `${(confinedBlob(this.container, name) as BlobClient).url}${await this.readSasQuery()}`;
  }

  /** Deletes the dropbox and everything still in it (the only delete the copy job makes). */
  async remove(): Promise<void> {
    await this.container.deleteIfExists();
  }
}

/**
 * One folder of the image container, write-only: blobs are copied in under validated relative names and
 * land inside `<folder>/`. It exposes no delete, so the copy job cannot remove or reach anything else.
 */
export class ImageFolderScope {
  constructor(
    private readonly container: ContainerClient,
    /** The folder (validated by the caller's domain rule), without a trailing '/'. */
    readonly folder: string,
  ) {}

  pathOf(name: RelativePath): string {
    return `${this.folder}/${name}`;
  }

  /**
   * Copies exactly the version `etag` of the source into `<folder>/<name>`, server-side. Throws a
   * `SourceChangedError` when the source was replaced since that version was read.
   */
  async copyIn(name: RelativePath, sourceUrl: string, etag: string, size: number): Promise<void> {
    const target = confinedBlob(this.container, this.pathOf(name));
    try {
      await copyBlob(target, sourceUrl, { size, ifMatch: quotedEtag(etag) });
    } catch (error) {
      if (statusOf(error) === 412) throw new SourceChangedError(name);
      throw error;
    }
  }
}

/** The dropbox blob was replaced between reading its header and copying it. */
export class SourceChangedError extends Error {
  constructor(name: string) {
    super(`${name} changed while it was being copied`);
    this.name = "SourceChangedError";
  }
}

/** The dropbox blob was deleted (by whoever holds the dropbox URL) before it could be read. */
export class SourceGoneError extends Error {
  constructor(name: string) {
    super(`${name} was deleted from the dropbox before it could be copied`);
    this.name = "SourceGoneError";
  }
}
