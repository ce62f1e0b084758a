import { createHash } from "node:crypto";
import type { TableClient, } from "@azure/data-tables";
import { DenseList, type Row } from "../storage/denseList.js";
import { pad } from "../storage/tableErrors.js";
import { mapLimit } from "../util/concurrency.js";
import { idRuns } from "../util/idRanges.js";

/** What the copy job learns about an image. */
export interface ImageFacts {
  blobPath: string;
  imagesetId: number;
  imagesetTitle: string;
  width: number;
  height: number;
  filesize: number;
  filetype: string;
  dateTaken: string | null;
  lat: number | null;
  lon: number | null;
  /** ETag of the dropbox upload that was copied (absent for images recorded otherwise). */
  sourceEtag?: string;
}

export interface ImageRecord extends ImageFacts {
  imageId: number;
}

/** The contract's image object. */
export function imageView(image: ImageRecord) {
  return {
    image_id: image.imageId,
    blobstorage_path: image.blobPath,
    date_taken: image.dateTaken,
    file: { dimensions: { height: image.height, width: image.width }, filesize: image.filesize, filetype: image.filetype },
    imageset: { imageset_id: image.imagesetId, title: image.imagesetTitle },
    location: { description: null, lat: image.lat, lon: image.lon },
    metadata: null,
    tss_id: null,
    type: null,
  };
}

const pathKey = (blobPath: string) => createHash("sha256").update(blobPath).digest("hex");

function toRecord(row: Record<string, unknown>, imageId: number): ImageRecord {
  return {
    imageId,
    blobPath: String(row.blobPath),
    imagesetId: Number(row.imagesetId),
    imagesetTitle: String(row.imagesetTitle),
    width: Number(row.width),
    height: Number(row.height),
    filesize: Number(row.filesize),
    filetype: String(row.filetype),
    dateTaken: (row.dateTaken as string | undefined) ?? null,
    lat: typeof row.lat === "number" ? row.lat : null,
    lon: typeof row.lon === "number" ? row.lon : null,
    ...(typeof row.sourceEtag === "string" ? { sourceEtag: row.sourceEtag } : {}),
  };
}

function factsEntity(facts: ImageFacts): Record<string, unknown> {
  const { dateTaken, lat, lon, sourceEtag, ...rest } = facts;
  return {
    ...rest,
    ...(dateTaken ? { dateTaken } : {}),
    ...(lat !== null ? { lat } : {}),
    ...(lon !== null ? { lon } : {}),
    ...(sourceEtag ? { sourceEtag } : {}),
  };
}

/**
 * All images, in the `records` table: the global list (id = position + 1, so ids are dense and a page is
 * one range read), keyed by blob path so an image is recorded once however often its copy job runs; and
 * each image set's member list (its own images plus stored images added to it).
 */
export class ImageStore {
  private readonly all: DenseList;

  constructor(private readonly table: TableClient) {
    this.all = new DenseList(table, "images", "img");
  }

  memberList(imagesetId: number): DenseList {
    return new DenseList(this.table, `imageset!${pad(imagesetId)}`, "member");
  }

  /** Records images (new ones get ids; already recorded paths return their existing id). */
  async record(facts: ImageFacts[], options: { assumeNew?: boolean } = {}): Promise<ImageRecord[]> {
    const appended = await this.all.append(
      facts.map((f) => ({ key: pathKey(f.blobPath), item: factsEntity(f) })),
      {},
      options.assumeNew,
    );
    return appended.map((a, i) => ({ ...facts[i]!, imageId: a.pos + 1 }));
  }

  async get(imageId: number): Promise<ImageRecord | undefined> {
    const row = await this.all.getAt(imageId - 1);
    return row ? toRecord(row, imageId) : undefined;
  }

  /** Images by id: ids are positions, so runs of near-consecutive ids are one range read each. */
  async getMany(imageIds: number[]): Promise<Map<number, ImageRecord>> {
    const found = new Map<number, ImageRecord>();
    // An id joins a run across small gaps (a few wasted rows beat another request), up to 1,000 rows.
    await mapLimit(idRuns(imageIds), 16, async ([from, to]) => {
      for (const image of await this.page(from - 1, to - from + 1)) if (image.imageId >= from && image.imageId <= to) found.set(image.imageId, image);
    });
    return new Map(imageIds.filter((id) => found.has(id)).map((id) => [id, found.get(id)!]));
  }

  async findByPath(blobPath: string): Promise<ImageRecord | undefined> {
    const row = await this.all.getByKey(pathKey(blobPath));
    return row ? this.get(Number(row.pos) + 1) : undefined;
  }

  async count(): Promise<number> {
    return this.all.count();
  }

  async page(offset: number, limit: number): Promise<ImageRecord[]> {
    const rows = await this.all.range(offset, limit);
    return rows.map((row) => toRecord(row, rowPos(row) + 1));
  }

  /** Adds images to a set's member list (idempotent: an image is a member once). */
  async addMembers(imagesetId: number, images: ImageRecord[], options: { assumeNew?: boolean } = {}): Promise<number> {
    const appended = await this.memberList(imagesetId).append(
      images.map((image) => ({ key: pad(image.imageId), item: { imageId: image.imageId, ...factsEntity(image) } })),
      {},
      options.assumeNew,
    );
    return appended.filter((a) => a.created).length;
  }

  /**
   * A set's members: blob path -> ETag of the dropbox upload that was copied ("" when not known), by one
   * scan of its member rows (cheaper than a point read per path).
   */
  async memberSources(imagesetId: number): Promise<Map<string, string>> {
    const list = this.memberList(imagesetId);
    const sources = new Map<string, string>();
    const iterator = this.table.listEntities<{ blobPath: string; sourceEtag?: string }>({
      queryOptions: {
        filter: `PartitionKey eq '${list.partitionKey}' and RowKey ge '${list.posKey(0)}' and RowKey lt '${list.prefix}!pos"'`,
        select: ["blobPath", "sourceEtag"],
      },
    });
    for await (const page of iterator.byPage({ maxPageSize: 1000 })) for (const row of page) sources.set(row.blobPath, row.sourceEtag ?? "");
    return sources;
  }

  async memberCount(imagesetId: number): Promise<number> {
    return this.memberList(imagesetId).count();
  }

  async memberPage(imagesetId: number, offset: number, limit: number): Promise<ImageRecord[]> {
    const rows = await this.memberList(imagesetId).range(offset, limit);
    return rows.map((row) => toRecord(row, Number(row.imageId)));
  }
}

function rowPos(row: Row): number {
  const key = String(row.rowKey);
  return Number(key.slice(key.lastIndexOf("!") + 1));
}
