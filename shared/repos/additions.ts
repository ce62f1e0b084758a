import { randomBytes } from "node:crypto";
import { odata, type TableClient, type TransactionAction } from "@azure/data-tables";
import { fromJsonColumns, toJsonColumns } from "../storage/jsonColumns.js";
import { queryAll, rowPrefix, type Row } from "../storage/queries.js";
import { retryOnConflict } from "../storage/retry.js";
import { readRow } from "../storage/rows.js";
import { pad } from "../storage/tableErrors.js";
import { planTransactions } from "../storage/transactions.js";

export const ADDITION_STATUSES = ["queued", "running", "succeeded", "failed"] as const;
export type AdditionStatus = (typeof ADDITION_STATUSES)[number];

/** A large addition of images to a campaign, run by a background job. */
export interface AdditionRecord {
  additionId: string;
  campaignId: number;
  status: AdditionStatus;
  /** Images to add, and how many are added so far. */
  total: number;
  done: number;
  createdBy: string;
  dateCreated: string;
  dateStarted: string | null;
  dateFinished: string | null;
  error: string | null;
  etag: string;
}

export type AdditionChange = Partial<Pick<AdditionRecord, "status" | "done" | "dateStarted" | "dateFinished" | "error">>;

/** Characters of id ranges per row (a JSON column holds at most 420,000). */
const PART_CHARS = 400_000;

/** `<yyyymmddhhmmss>-<8 hex>` (UTC): sorts by creation time; getAddition refuses any other shape unread. */
export const newAdditionId = (now = new Date()) =>
  `${now
    .toISOString()
    .replace(/[-:TZ.]/g, "")
    .slice(0, 14)}-${randomBytes(4).toString("hex")}`;

/** Ids as sorted `[from, to]` runs: a set's images are mostly consecutive, so 100,000 ids are a few runs. */
export function toRuns(ids: number[]): Array<[number, number]> {
  const runs: Array<[number, number]> = [];
  for (const id of [...new Set(ids)].sort((a, b) => a - b)) {
    const last = runs[runs.length - 1];
    if (last && id === last[1] + 1) last[1] = id;
    else runs.push([id, id]);
  }
  return runs;
}

export const fromRuns = (runs: Array<[number, number]>) => runs.flatMap(([from, to]) => Array.from({ length: to - from + 1 }, (_, i) => from + i));

function optionalString(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}

function toRecord(row: Row, campaignId: number): AdditionRecord {
  return {
    additionId: String(row.rowKey).slice("addition!".length),
    campaignId,
    status: row.status as AdditionStatus,
    total: Number(row.total),
    done: Number(row.done ?? 0),
    createdBy: String(row.createdBy),
    dateCreated: String(row.dateCreated),
    dateStarted: optionalString(row.dateStarted),
    dateFinished: optionalString(row.dateFinished),
    error: optionalString(row.error),
    etag: String(row.etag),
  };
}

/**
 * Additions in a campaign's meta partition (`campaign!<id>!meta`): the record `addition!<id>` and its ids
 * (as runs) in `addition!<id>!part!<n>` rows, all written in one transaction, so an addition exists whole
 * or not at all.
 */
export class AdditionStore {
  constructor(private readonly data: TableClient) {}

  private partition(campaignId: number): string {
    return `campaign!${pad(campaignId)}!meta`;
  }

  async create(campaignId: number, fields: { additionId: string; imageIds: number[]; createdBy: string; dateCreated: string }): Promise<AdditionRecord> {
    const pk = this.partition(campaignId);
    const text = JSON.stringify(toRuns(fields.imageIds));
    const parts = Math.max(1, Math.ceil(text.length / PART_CHARS));
    const key = `addition!${fields.additionId}`;
    // The runs text is cut at character boundaries and joined back before parsing.
    const actions: TransactionAction[] = Array.from({ length: parts }, (_, i): TransactionAction => [
      "create",
      { partitionKey: pk, rowKey: `${key}!part!${pad(i, 4)}`, ...toJsonColumns("text", text.slice(i * PART_CHARS, (i + 1) * PART_CHARS)) },
    ]);
    actions.push([
      "create",
      {
        partitionKey: pk,
        rowKey: key,
        status: "queued",
        total: new Set(fields.imageIds).size,
        done: 0,
        parts,
        createdBy: fields.createdBy,
        dateCreated: fields.dateCreated,
      },
    ]);
    const plan = planTransactions(actions);
    if (plan.length !== 1) throw new RangeError(`addition of ${fields.imageIds.length} images does not fit one transaction`);
    await this.data.submitTransaction(plan[0]!);
    return (await this.get(campaignId, fields.additionId))!;
  }

  async get(campaignId: number, additionId: string): Promise<AdditionRecord | undefined> {
    const row = await readRow(this.data, this.partition(campaignId), `addition!${additionId}`);
    return row && toRecord(row, campaignId);
  }

  /** The ids the addition adds, in order. */
  async imageIds(campaignId: number, additionId: string): Promise<number[]> {
    const parts = await queryAll(this.data, rowPrefix(this.partition(campaignId), `addition!${additionId}!part!`));
    const text = parts.map((row) => fromJsonColumns<string>(row, "text", "")).join("");
    return fromRuns(JSON.parse(text || "[]") as Array<[number, number]>);
  }

  /** Additions of a campaign that have not ended. */
  async pending(campaignId: number): Promise<AdditionRecord[]> {
    const rows = await queryAll(this.data, rowPrefix(this.partition(campaignId), "addition!", odata`status eq ${"queued"} or status eq ${"running"}`), [
      "status",
      "total",
      "done",
      "createdBy",
      "dateCreated",
    ]);
    return rows.filter((row) => !String(row.rowKey).includes("!part!")).map((row) => toRecord(row, campaignId));
  }

  async update(campaignId: number, additionId: string, change: (current: AdditionRecord) => AdditionChange | null): Promise<AdditionRecord | undefined> {
    return retryOnConflict(`addition ${additionId}`, async () => {
      const current = await this.get(campaignId, additionId);
      if (!current) return undefined;
      const fields = change(current);
      if (!fields) return current;
      const entity = Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v ?? ""]));
      await this.data.updateEntity({ partitionKey: this.partition(campaignId), rowKey: `addition!${additionId}`, ...entity }, "Merge", { etag: current.etag });
      return this.get(campaignId, additionId);
    });
  }
}
