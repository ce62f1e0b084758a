import { createHash } from "node:crypto";
import type { TableClient } from "@azure/data-tables";
import { BucketedSet } from "../storage/buckets.js";
import type { Row } from "../storage/queries.js";
import { KeyedSequence } from "../storage/sequence.js";
import { pad } from "../storage/tableErrors.js";

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

/** A stored image: its facts and its id (dense, from 1, in the order images were recorded). */
export interface ImageRecord extends ImageFacts {
  imageId: number;
}

const pathKey = (blobPath: string) => createHash("sha256").update(blobPath).digest("hex");
/** Key rows are grouped by an image's folder (a set's images share it) and 16 shards within it. */
const PATH_SHARDS = 16;
function pathGroup(blobPath: string): string {
  const slash = blobPath.lastIndexOf("/");
  const folder = slash < 0 ? "" : blobPath.slice(0, slash);
  const shard = parseInt(pathKey(blobPath).slice(0, 4), 16) % PATH_SHARDS;
  return `${createHash("sha256").update(folder).digest("hex").slice(0, 16)}!${pad(shard, 2)}`;
}

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
 * All images, in the `records` table: the global sequence (id = position + 1, so ids are dense, a page is
 * one or two range reads, and a look-up by id one point read), keyed by blob path so an image is recorded
 * once however often its copy job runs; and each image set's members (its own images plus stored images
 * added to it), bucketed by image id. Every partition is bounded (see KeyedSequence and BucketedSet), so
 * recording into a store of a million images costs what it costs into an empty one.
 */
export class ImageStore {
  private readonly all: KeyedSequence;

  constructor(private readonly table: TableClient) {
    this.all = new KeyedSequence(table, "images");
  }

  members(imagesetId: number): BucketedSet {
    return new BucketedSet(this.table, `imageset!${pad(imagesetId)}`, "member");
  }

  /** Records images (new ones get ids; already recorded paths return their existing id). */
  async record(facts: ImageFacts[]): Promise<ImageRecord[]> {
    const appended = await this.all.append(facts.map((f) => ({ key: pathKey(f.blobPath), group: pathGroup(f.blobPath), item: factsEntity(f) })));
    return appended.map((a, i) => ({ ...facts[i]!, imageId: a.pos + 1 }));
  }

  async get(imageId: number): Promise<ImageRecord | undefined> {
    const row = await this.all.get(imageId - 1);
    return row ? toRecord(row, imageId) : undefined;
  }

  /** Images by id (in the order asked, unknown ids left out): one range read per bucket of ids. */
  async getMany(imageIds: number[]): Promise<Map<number, ImageRecord>> {
    const rows = await this.all.getMany(imageIds.filter((id) => id >= 1).map((id) => id - 1));
    return new Map(imageIds.filter((id) => rows.has(id - 1)).map((id) => [id, toRecord(rows.get(id - 1)!, id)]));
  }

  async findByPath(blobPath: string): Promise<ImageRecord | undefined> {
    const pos = await this.all.positionOf(pathKey(blobPath), pathGroup(blobPath));
    return pos === undefined ? undefined : this.get(pos + 1);
  }

  async count(): Promise<number> {
    return this.all.count();
  }

  async page(offset: number, limit: number): Promise<ImageRecord[]> {
    const rows = await this.all.range(offset, Math.min(limit, (await this.count()) - offset));
    return rows.map((row) => toRecord(row, rowPos(row) + 1));
  }

  /** Adds images to a set's members (idempotent: an image is a member once); returns how many were new. */
  async addMembers(imagesetId: number, images: ImageRecord[]): Promise<number> {
    return this.members(imagesetId).add(images.map((image) => ({ id: image.imageId, entity: { imageId: image.imageId, ...factsEntity(image) } })));
  }

  /**
   * A set's members: blob path -> ETag of the dropbox upload that was copied ("" when not known), by one
   * range read per bucket of members (cheaper than a point read per path).
   */
  async memberSources(imagesetId: number): Promise<Map<string, string>> {
    const sources = new Map<string, string>();
    for await (const rows of this.members(imagesetId).scan(undefined, ["blobPath", "sourceEtag"])) {
      for (const row of rows) sources.set(String(row.blobPath), typeof row.sourceEtag === "string" ? row.sourceEtag : "");
    }
    return sources;
  }

  async memberCount(imagesetId: number): Promise<number> {
    let total = 0;
    for (const counts of (await this.members(imagesetId).summary.read()).values()) total += counts.total;
    return total;
  }

  /** Members [offset, offset + limit) in image-id order. */
  async memberPage(imagesetId: number, offset: number, limit: number): Promise<ImageRecord[]> {
    const { rows } = await this.members(imagesetId).page(offset, limit);
    return rows.map((row) => toRecord(row, Number(row.imageId)));
  }
}

function rowPos(row: Row): number {
  const key = String(row.rowKey);
  return Number(key.slice(key.lastIndexOf("!") + 1));
}
