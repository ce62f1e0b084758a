/**
 * The webhook outbox. A store that changes a resource's status writes, in the same single-partition transaction
 * as the change, an `outbox!<eventId>` row holding the event(s) the change announces: the event exists exactly when
 * the change does. Before that transaction it queues a delayed `webhook-dispatch` of the partition, and after it an
 * immediate one, so a crash between the commit and the send still has the partition swept a minute later. The
 * dispatch job (shared/jobs/webhookDispatch.ts) turns the rows into deliveries and deletes them.
 *
 * Only events some enabled subscription asks for are recorded (one read of the subscriptions per store call that
 * announces something), so with no subscriptions a change costs what it did before.
 */
import type { TableClient, TransactionAction } from "@azure/data-tables";
import { wantsEvent } from "../domain/webhooks.js";
import { errorMessage, unavailable } from "../errors.js";
import type { JobBody, JobSender } from "../queue/messages.js";
import { fromJsonColumns, toJsonColumns } from "../storage/jsonColumns.js";
import type { WebhookEvent } from "./events.js";

/** Row key prefix of outbox rows; every query of a partition that may hold them reads another prefix or range. */
export const OUTBOX_PREFIX = "outbox!";
/** Delay of the sweep queued before a change: longer than any store call takes to commit (its retries last a few seconds). */
export const SWEEP_DELAY_SECONDS = 60;

/** The tables whose partitions may hold outbox rows. */
export type OutboxTable = JobBody<"webhook-dispatch">["table"];

/** What the outbox needs to know of the subscriptions: which event types an enabled one asks for. */
export type SubscriptionFilter = () => Promise<ReadonlyArray<{ enabled: boolean; events: readonly string[] }>>;

/** How a store call announces its change. */
export interface AnnounceOptions {
  /**
   * false: record no webhook event. For a request undoing its own change after its job could not be queued: the
   * request answers 503, so the change and its undo are not news (and the queue is down anyway).
   */
  announce?: boolean;
}

/** The events an outbox row holds (written by OutboxRecorder.row). */
export function outboxEvents(row: Record<string, unknown>): WebhookEvent[] {
  return fromJsonColumns<WebhookEvent[]>(row, "events", []);
}

/** The outbox of the app: stores ask it for a recorder per call. */
export class Outbox {
  constructor(
    readonly queue: JobSender,
    readonly subscriptions: SubscriptionFilter,
  ) {}

  /** A recorder for one store call writing to `table`. */
  recorder(table: OutboxTable): OutboxRecorder {
    return new OutboxRecorder(this, table);
  }
}

/**
 * Records the events of one store call (which may retry its transaction, and may write several partitions): the
 * subscriptions are read once, each partition's delayed sweep is queued once before its first outbox row, and
 * `flush` queues the immediate sweeps at the end.
 */
export class OutboxRecorder {
  private listening: ReturnType<SubscriptionFilter> | undefined;
  private readonly partitions = new Set<string>();

  constructor(
    private readonly outbox: Outbox,
    readonly table: OutboxTable,
  ) {}

  /**
   * The outbox row to add to the transaction that makes a change in `partition`, or undefined when no enabled
   * subscription asks for any of `events`. Queues the partition's delayed sweep first; when the queue refuses, the
   * change must not happen (an outbox row nobody sweeps would never be delivered): a 503 to try again.
   */
  async row(partition: string, events: WebhookEvent[]): Promise<TransactionAction | undefined> {
    if (!events.length) return undefined;
    this.listening ??= this.outbox.subscriptions();
    const subscriptions = await this.listening;
    const wanted = events.filter((event) => subscriptions.some((s) => s.enabled && wantsEvent(s.events, event.type)));
    if (!wanted.length) return undefined;
    if (!this.partitions.has(partition)) {
      try {
        await this.outbox.queue.send("webhook-dispatch", { table: this.table, partition }, { delaySeconds: SWEEP_DELAY_SECONDS });
      } catch (error) {
        throw unavailable(`could not queue the webhook dispatch (${errorMessage(error)}); nothing changed, try again`);
      }
      this.partitions.add(partition);
    }
    return ["create", { partitionKey: partition, rowKey: `${OUTBOX_PREFIX}${wanted[0]!.id}`, ...toJsonColumns("events", wanted) }];
  }

  /** After the store call: sweeps each partition that got an outbox row now. Best effort: the delayed sweep follows anyway. */
  async flush(): Promise<void> {
    await Promise.all(
      [...this.partitions].map((partition) => this.outbox.queue.send("webhook-dispatch", { table: this.table, partition }).catch(() => undefined)),
    );
  }
}

/**
 * Updates one row (Merge, under its ETag) and, when `recorder` records any of `events` in that row's partition, the
 * outbox row with it in one transaction. A lost race throws 412 for the caller's retry, as a plain update would.
 */
export async function updateWithOutbox(
  table: TableClient,
  recorder: OutboxRecorder | undefined,
  entity: { partitionKey: string; rowKey: string } & Record<string, unknown>,
  etag: string,
  events: WebhookEvent[],
): Promise<void> {
  const outboxRow = recorder ? await recorder.row(entity.partitionKey, events) : undefined;
  if (!outboxRow) {
    await table.updateEntity(entity, "Merge", { etag });
    return;
  }
  await table.submitTransaction([["update", entity, "Merge", { etag }], outboxRow]);
}
