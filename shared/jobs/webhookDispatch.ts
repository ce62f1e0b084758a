import { EVENT_ID, wantsEvent } from "../domain/webhooks.js";
import { contractTimestamp } from "../domain/time.js";
import type { JobBody } from "../queue/messages.js";
import type { Services } from "../services.js";
import { rowPrefix, queryAll } from "../storage/queries.js";
import { isNotFound, isConflict } from "../storage/tableErrors.js";
import { cloudEventBody, deliveryIdOf, eventSource } from "../webhooks/events.js";
import { OUTBOX_PREFIX, outboxEvents, SWEEP_DELAY_SECONDS } from "../webhooks/outbox.js";
import type { JobLog } from "./runtime.js";

/**
 * Sweeps one partition's webhook outbox: for each outbox row (oldest first), one delivery per enabled subscription
 * that asks for the event and existed when it happened (the delivery id is the event's and the subscription's, so a
 * repeated sweep finds the deliveries it made), the first attempt of each queued, then the row deleted. Killed
 * half-way, the row is still there and the next sweep (the delayed one queued before the change, or a repeat of this
 * message) does the rest; deliveries already made are found again and their attempt messages, if sent twice, meet
 * an attempt that is claimed or done.
 */
export async function runWebhookDispatch(services: Services, body: JobBody<"webhook-dispatch">, log: JobLog): Promise<void> {
  const table = services.clients.table(body.table);
  const rows = await queryAll(table, rowPrefix(body.partition, OUTBOX_PREFIX));
  if (!rows.length) {
    log.info("no outbox rows; nothing to dispatch");
    return;
  }
  const subscriptions = (await services.webhooks.list()).filter((s) => s.enabled);
  const source = eventSource(services.config.settings, services.config.prefix);
  for (const row of rows.sort((a, b) => String(a.rowKey).localeCompare(String(b.rowKey)))) {
    const events = outboxEvents(row).filter((e) => EVENT_ID.test(e.id));
    let deliveries = 0;
    for (const subscription of subscriptions) {
      const matching = events.filter((e) => wantsEvent(subscription.events, e.type) && Date.parse(e.time) >= Date.parse(subscription.dateCreated));
      if (!matching.length) continue;
      const drafts = matching.map((event) => ({ deliveryId: deliveryIdOf(event.id, subscription.webhookId), event, body: cloudEventBody(event, source) }));
      const positions = await services.webhooks.addDeliveries(subscription.webhookId, drafts, contractTimestamp());
      for (const position of positions) await services.queue.send("webhook-deliver", { webhookId: subscription.webhookId, position, attempt: 1 });
      deliveries += positions.length;
    }
    try {
      await table.deleteEntity(body.partition, String(row.rowKey), { etag: String(row.etag) });
    } catch (error) {
      // Gone already: a concurrent sweep of the same partition did the same work.
      if (!isNotFound(error) && !isConflict(error)) throw error;
    }
    log.info(`${events.map((e) => `${e.type} ${e.id}`).join(", ")}: ${deliveries} deliveries`);
  }
}

/** Sweeps queued again, 5 minutes apart, after one failed for good (storage or the queue down for a while). */
const RESWEEPS = 12;

/** A sweep that failed for good leaves its rows; another is queued 5 minutes on (up to an hour of them), so they are not forgotten. */
export async function failWebhookDispatch(services: Services, body: JobBody<"webhook-dispatch">): Promise<void> {
  const resweep = (body.resweep ?? 0) + 1;
  if (resweep > RESWEEPS) return;
  await services.queue.send("webhook-dispatch", { table: body.table, partition: body.partition, resweep }, { delaySeconds: 5 * SWEEP_DELAY_SECONDS });
}
