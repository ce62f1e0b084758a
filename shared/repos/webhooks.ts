import { randomBytes, randomUUID } from "node:crypto";
import type { TableClient, TransactionAction } from "@azure/data-tables";
import { deliveryDay, type WebhookEventType } from "../domain/webhooks.js";
import { BUCKET_SIZE, bucketOf } from "../storage/buckets.js";
import { fromJsonColumns, toJsonColumns } from "../storage/jsonColumns.js";
import { queryAll, queryPages, rowPrefix, rowRange, type Row } from "../storage/queries.js";
import { retryOnConflict } from "../storage/retry.js";
import { readRow, stringColumn } from "../storage/rows.js";
import { KeyedSequence } from "../storage/sequence.js";
import { isConflict, isNotFound, pad } from "../storage/tableErrors.js";
import { planTransactions } from "../storage/transactions.js";
import type { WebhookEvent } from "../webhooks/events.js";

/** A webhook subscription as stored. `secret` signs its deliveries and is shown only in the answer that created it. */
export interface WebhookRecord {
  webhookId: string;
  url: string;
  /** Event names, or `*`. */
  events: string[];
  description: string | null;
  enabled: boolean;
  secret: string;
  createdBy: string;
  dateCreated: string;
  dateUpdated: string;
  etag: string;
}

export type WebhookChange = Partial<Pick<WebhookRecord, "url" | "events" | "description" | "enabled" | "dateUpdated">>;

/** `pending` while attempts are made or scheduled; `delivered` after a 2xx; `failed` once the retries are used up (or the subscription is gone). */
export type DeliveryStatus = "pending" | "delivered" | "failed";

/** One event's delivery to one subscription: the body every attempt sends, and where the attempts stand. */
export interface DeliveryRecord {
  webhookId: string;
  /** Its place in the subscription's deliveries (0 = the first ever): the listing's order, and where its rows live. */
  position: number;
  /** The `webhook-id` of every attempt. */
  deliveryId: string;
  eventId: string;
  eventType: WebhookEventType;
  subject: string;
  eventTime: string;
  /** The exact HTTP body (the CloudEvent), signed anew with each attempt's timestamp. */
  body: string;
  status: DeliveryStatus;
  /** Attempts made so far. */
  attempts: number;
  /** The attempt scheduled next (while pending), else 0. */
  nextAttempt: number;
  nextAttemptAt: string | null;
  /** The first attempt of the current round: 1, or the attempt a redelivery started with (the retry schedule counts from it). */
  roundStart: number;
  lastStatusCode: number | null;
  lastError: string | null;
  dateCreated: string;
  dateUpdated: string;
  etag: string;
}

/** One attempt of a delivery: claimed by the worker making it, then done with its outcome. */
export interface AttemptRecord {
  attempt: number;
  state: "claimed" | "done";
  claimId: string;
  /** When the worker claimed it (ms since the epoch): a claim older than the claim time is taken over. */
  claimedAt: number;
  date: string | null;
  durationMs: number | null;
  statusCode: number | null;
  error: string | null;
  responseBody: string | null;
  nextRetryAt: string | null;
  etag: string;
}

/** The outcome a worker records for its attempt, and where the delivery goes next. */
export interface AttemptOutcome {
  date: string;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
  responseBody: string;
  status: DeliveryStatus;
  /** The next attempt's number and time while the delivery stays pending. */
  next?: { attempt: number; at: string };
}

/** The result of trying to claim an attempt. */
export type Claim = { state: "claimed"; claimId: string; etag: string } | { state: "busy"; until: number } | { state: "done" };

const SUBSCRIPTIONS = "webhooks";
const subscriptionKey = (webhookId: string) => `sub!${webhookId}`;
const stateKey = (position: number) => `state!${pad(position)}`;
const attemptKey = (position: number, attempt: number) => `attempt!${pad(position)}!${pad(attempt, 5)}`;
/** The state columns a listing reads (the body stays behind). */
const STATE_COLUMNS = [
  "RowKey",
  "deliveryId",
  "eventId",
  "eventType",
  "subject",
  "eventTime",
  "status",
  "attempts",
  "nextAttempt",
  "nextAttemptAt",
  "roundStart",
  "lastStatusCode",
  "lastError",
  "dateCreated",
  "dateUpdated",
];

const text = (row: Record<string, unknown>, name: string): string | null => stringColumn(row, name) || null;
const numberOrNull = (value: unknown): number | null => (typeof value === "number" ? value : null);

function toWebhook(row: Row): WebhookRecord {
  return {
    webhookId: String(row.rowKey).slice("sub!".length),
    url: stringColumn(row, "url"),
    events: JSON.parse(stringColumn(row, "events", "[]")) as string[],
    description: text(row, "description"),
    enabled: row.enabled === true,
    secret: stringColumn(row, "secret"),
    createdBy: stringColumn(row, "createdBy"),
    dateCreated: stringColumn(row, "dateCreated"),
    dateUpdated: stringColumn(row, "dateUpdated"),
    etag: String(row.etag),
  };
}

function toDelivery(webhookId: string, row: Row): DeliveryRecord {
  return {
    webhookId,
    position: Number(String(row.rowKey).slice("state!".length)),
    deliveryId: stringColumn(row, "deliveryId"),
    eventId: stringColumn(row, "eventId"),
    eventType: stringColumn(row, "eventType") as WebhookEventType,
    subject: stringColumn(row, "subject"),
    eventTime: stringColumn(row, "eventTime"),
    body: fromJsonColumns<string>(row, "body", ""),
    status: stringColumn(row, "status", "pending") as DeliveryStatus,
    attempts: Number(row.attempts ?? 0),
    nextAttempt: Number(row.nextAttempt ?? 0),
    nextAttemptAt: text(row, "nextAttemptAt"),
    roundStart: Number(row.roundStart ?? 1),
    // -1: no answer (stored as a number so the column keeps one type).
    lastStatusCode: typeof row.lastStatusCode === "number" && row.lastStatusCode >= 0 ? row.lastStatusCode : null,
    lastError: text(row, "lastError"),
    dateCreated: stringColumn(row, "dateCreated"),
    dateUpdated: stringColumn(row, "dateUpdated"),
    etag: String(row.etag),
  };
}

function toAttempt(row: Row): AttemptRecord {
  return {
    attempt: Number(row.attempt),
    state: row.state === "done" ? "done" : "claimed",
    claimId: stringColumn(row, "claimId"),
    claimedAt: Number(row.claimedAt ?? 0),
    date: text(row, "date"),
    durationMs: numberOrNull(row.durationMs),
    statusCode: numberOrNull(row.statusCode),
    error: text(row, "error"),
    responseBody: row.state === "done" ? stringColumn(row, "responseBody") : null,
    nextRetryAt: text(row, "nextRetryAt"),
    etag: String(row.etag),
  };
}

/** A new subscription id: `wh_` and 16 random hex digits. */
export const newWebhookId = () => `wh_${randomBytes(8).toString("hex")}`;

/**
 * Webhook subscriptions and their deliveries, in the `records` table:
 *   `webhooks`                   `sub!<id>`: the subscriptions (a few dozen at most; every dispatch reads them all)
 *   `webhook!<id>!head`          the deliveries' sequence head (count, writer lease, blocks being written)
 *   `webhook!<id>!<bucket>`      per 1,000 deliveries: `pos!<n>` (the sequence's rows), `state!<n>` (the delivery: body
 *                                and status) and `attempt!<n>!<k>` (each attempt)
 *   `webhook!<id>!k<yyyymmdd>`   `key!<delivery id>` → position, per day of the events
 * A delivery gets its position exactly once per delivery id (a KeyedSequence), so dispatching an event again finds
 * the delivery it made; newest-first pages are a range read of one or two buckets, whatever the history's length.
 */
export class WebhookStore {
  constructor(readonly table: TableClient) {}

  // -------------------------------------------------------------------------------------------------
  // Subscriptions

  async create(record: Omit<WebhookRecord, "etag">): Promise<WebhookRecord> {
    const { webhookId, events, description, ...rest } = record;
    await this.table.createEntity({
      partitionKey: SUBSCRIPTIONS,
      rowKey: subscriptionKey(webhookId),
      ...rest,
      events: JSON.stringify(events),
      description: description ?? "",
    });
    return (await this.get(webhookId))!;
  }

  async get(webhookId: string): Promise<WebhookRecord | undefined> {
    const row = await readRow(this.table, SUBSCRIPTIONS, subscriptionKey(webhookId));
    return row && toWebhook(row);
  }

  /** Every subscription, oldest first (one range read). */
  async list(): Promise<WebhookRecord[]> {
    const rows = await queryAll(this.table, rowPrefix(SUBSCRIPTIONS, "sub!"));
    return rows.map(toWebhook).sort((a, b) => a.dateCreated.localeCompare(b.dateCreated) || a.webhookId.localeCompare(b.webhookId));
  }

  /** Applies `change` under the subscription's ETag, retrying on concurrent writes; undefined when it does not exist. */
  async update(webhookId: string, change: (current: WebhookRecord) => WebhookChange | null): Promise<WebhookRecord | undefined> {
    return retryOnConflict(`webhook ${webhookId}`, async () => {
      const current = await this.get(webhookId);
      if (!current) return undefined;
      const fields = change(current);
      if (!fields) return current;
      const { events, description, ...rest } = fields;
      const entity: Record<string, unknown> = { ...rest };
      if (events) entity.events = JSON.stringify(events);
      if (description !== undefined) entity.description = description ?? "";
      await this.table.updateEntity({ partitionKey: SUBSCRIPTIONS, rowKey: subscriptionKey(webhookId), ...entity }, "Merge", { etag: current.etag });
      return this.get(webhookId);
    });
  }

  /** Deletes a subscription (its secret with it); answers whether it existed. Its deliveries stay, unreachable. */
  async delete(webhookId: string): Promise<boolean> {
    try {
      await this.table.deleteEntity(SUBSCRIPTIONS, subscriptionKey(webhookId));
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  // -------------------------------------------------------------------------------------------------
  // Deliveries

  private sequence(webhookId: string): KeyedSequence {
    return new KeyedSequence(this.table, `webhook!${webhookId}`);
  }

  /**
   * Records deliveries of events to a subscription, each exactly once per delivery id (a repeat finds the one made
   * before, in whatever state it is): positions first, then each delivery's state row, created only where missing.
   */
  async addDeliveries(webhookId: string, drafts: ReadonlyArray<{ deliveryId: string; event: WebhookEvent; body: string }>, now: string): Promise<number[]> {
    const sequence = this.sequence(webhookId);
    const appended = await sequence.append(drafts.map((d) => ({ key: d.deliveryId, group: deliveryDay(d.deliveryId), item: { deliveryId: d.deliveryId } })));
    const creates = drafts.map((draft, i): TransactionAction => [
      "create",
      {
        partitionKey: sequence.bucketPartition(appended[i]!.pos),
        rowKey: stateKey(appended[i]!.pos),
        deliveryId: draft.deliveryId,
        eventId: draft.event.id,
        eventType: draft.event.type,
        subject: draft.event.subject,
        eventTime: draft.event.time,
        ...toJsonColumns("body", draft.body),
        status: "pending",
        attempts: 0,
        nextAttempt: 1,
        nextAttemptAt: now,
        roundStart: 1,
        dateCreated: now,
        dateUpdated: now,
      },
    ]);
    for (const transaction of planTransactions(creates)) {
      try {
        await this.table.submitTransaction(transaction);
      } catch (error) {
        if (!isConflict(error)) throw error;
        // Some exist already (a repeated dispatch): create the rest one by one, never touching those.
        for (const [, entity] of transaction) {
          await this.table.createEntity(entity as { partitionKey: string; rowKey: string }).catch((e: unknown) => {
            if (!isConflict(e)) throw e;
          });
        }
      }
    }
    return appended.map((a) => a.pos);
  }

  async getDelivery(webhookId: string, position: number): Promise<DeliveryRecord | undefined> {
    const row = await readRow(this.table, this.sequence(webhookId).bucketPartition(position), stateKey(position));
    return row && toDelivery(webhookId, row);
  }

  /** The position of a delivery id among a subscription's deliveries. */
  async findDelivery(webhookId: string, deliveryId: string): Promise<number | undefined> {
    return this.sequence(webhookId).positionOf(deliveryId, deliveryDay(deliveryId));
  }

  /**
   * A page of a subscription's deliveries, newest first, each with its attempts (oldest first): two range reads per
   * bucket the page spans (states without their bodies, and attempts).
   */
  async deliveryPage(
    webhookId: string,
    offset: number,
    limit: number,
  ): Promise<{ total: number; deliveries: Array<DeliveryRecord & { attemptList: AttemptRecord[] }> }> {
    const sequence = this.sequence(webhookId);
    const total = await sequence.count();
    const end = total - offset;
    const start = Math.max(0, end - limit);
    const states: DeliveryRecord[] = [];
    const attempts = new Map<number, AttemptRecord[]>();
    for (let from = start; from < end; from = (bucketOf(from) + 1) * BUCKET_SIZE) {
      const to = Math.min(end, (bucketOf(from) + 1) * BUCKET_SIZE);
      const partition = sequence.bucketPartition(from);
      const [stateRows, attemptRows] = await Promise.all([
        collect(this.table, rowRange(partition, stateKey(from), stateKey(to)), STATE_COLUMNS),
        collect(this.table, rowRange(partition, `attempt!${pad(from)}!`, `attempt!${pad(to)}!`)),
      ]);
      states.push(...stateRows.map((row) => toDelivery(webhookId, row)));
      for (const row of attemptRows) {
        const position = Number(String(row.rowKey).split("!")[1]);
        attempts.set(position, [...(attempts.get(position) ?? []), toAttempt(row)]);
      }
    }
    const deliveries = states
      .sort((a, b) => b.position - a.position)
      .map((d) => ({ ...d, attemptList: (attempts.get(d.position) ?? []).sort((a, b) => a.attempt - b.attempt) }));
    return { total, deliveries };
  }

  /** A delivery's attempts, oldest first. */
  async attempts(webhookId: string, position: number): Promise<AttemptRecord[]> {
    const partition = this.sequence(webhookId).bucketPartition(position);
    return (await queryAll(this.table, rowPrefix(partition, `attempt!${pad(position)}!`))).map(toAttempt);
  }

  /**
   * Applies `change` to a delivery's state under its ETag (retrying on concurrent writes); `change` returns the fields
   * to set, or null to leave it. Answers the delivery after, or undefined when there is none.
   */
  async updateDelivery(
    webhookId: string,
    position: number,
    change: (current: DeliveryRecord) => Partial<Omit<DeliveryRecord, "webhookId" | "position" | "etag" | "body">> | null,
  ): Promise<DeliveryRecord | undefined> {
    return retryOnConflict(`delivery ${position} of webhook ${webhookId}`, async () => {
      const current = await this.getDelivery(webhookId, position);
      if (!current) return undefined;
      const fields = change(current);
      if (!fields) return current;
      const entity = Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v ?? ""]));
      await this.table.updateEntity({ partitionKey: this.sequence(webhookId).bucketPartition(position), rowKey: stateKey(position), ...entity }, "Merge", {
        etag: current.etag,
      });
      return this.getDelivery(webhookId, position);
    });
  }

  /**
   * Claims attempt `attempt` of a delivery for this worker: done already, claimed by another worker within the last
   * `claimMs` (busy until then), or ours now (a claim older than that belonged to a worker that died, and is taken over).
   */
  async claimAttempt(webhookId: string, position: number, attempt: number, claimMs: number, clock: () => number = Date.now): Promise<Claim> {
    const partitionKey = this.sequence(webhookId).bucketPartition(position);
    const rowKey = attemptKey(position, attempt);
    return retryOnConflict(`attempt ${attempt} of delivery ${position} of webhook ${webhookId}`, async (): Promise<Claim> => {
      const row = await readRow(this.table, partitionKey, rowKey);
      const existing = row && toAttempt(row);
      const now = clock();
      if (existing?.state === "done") return { state: "done" };
      if (existing && existing.claimedAt + claimMs > now) return { state: "busy", until: existing.claimedAt + claimMs };
      const claimId = randomUUID();
      const entity = { partitionKey, rowKey, attempt, state: "claimed", claimId, claimedAt: now };
      const response = existing ? await this.table.updateEntity(entity, "Replace", { etag: existing.etag }) : await this.table.createEntity(entity);
      return { state: "claimed", claimId, etag: String(response.etag) };
    });
  }

  /**
   * Records a claimed attempt's outcome and moves the delivery on, in one transaction (attempt row under the claim's
   * ETag, delivery under its own): answers false, writing nothing, when the claim was taken over or the delivery has
   * moved on meanwhile.
   */
  async finishAttempt(webhookId: string, position: number, attempt: number, claim: { claimId: string }, outcome: AttemptOutcome): Promise<boolean> {
    const partitionKey = this.sequence(webhookId).bucketPartition(position);
    return retryOnConflict(`attempt ${attempt} of delivery ${position} of webhook ${webhookId}`, async () => {
      const [delivery, row] = await Promise.all([this.getDelivery(webhookId, position), readRow(this.table, partitionKey, attemptKey(position, attempt))]);
      if (!delivery || delivery.status !== "pending" || delivery.nextAttempt !== attempt) return false;
      if (!row || stringColumn(row, "claimId") !== claim.claimId || row.state === "done") return false;
      const attemptRow: Record<string, unknown> = {
        partitionKey,
        rowKey: attemptKey(position, attempt),
        attempt,
        state: "done",
        claimId: claim.claimId,
        claimedAt: Number(row.claimedAt ?? 0),
        date: outcome.date,
        durationMs: outcome.durationMs,
        error: outcome.error ?? "",
        responseBody: outcome.responseBody,
        nextRetryAt: outcome.next?.at ?? "",
      };
      if (outcome.statusCode !== null) attemptRow.statusCode = outcome.statusCode;
      const state: Record<string, unknown> = {
        partitionKey,
        rowKey: stateKey(position),
        status: outcome.status,
        attempts: attempt,
        nextAttempt: outcome.next?.attempt ?? 0,
        nextAttemptAt: outcome.next?.at ?? "",
        lastStatusCode: outcome.statusCode ?? -1,
        lastError: outcome.error ?? "",
        dateUpdated: outcome.date,
      };
      await this.table.submitTransaction([
        ["update", attemptRow as { partitionKey: string; rowKey: string }, "Replace", { etag: String(row.etag) }],
        ["update", state as { partitionKey: string; rowKey: string }, "Merge", { etag: delivery.etag }],
      ]);
      return true;
    });
  }
}

async function collect(table: TableClient, filter: string, select?: string[]): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const page of queryPages(table, filter, { select })) rows.push(...page);
  return rows;
}
