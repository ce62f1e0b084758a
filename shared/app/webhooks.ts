/**
 * Webhook subscriptions (admin): create (the signing secret is answered once), list, read, change, delete, ping,
 * the deliveries with their attempts, and redelivery. Events reach subscriptions through the outbox
 * (shared/webhooks/outbox.ts) and the dispatch and delivery jobs.
 */
import type { z } from "zod";
import type { Principal } from "../auth.js";
import { pageOffset, type PageRequest } from "../domain/pagination.js";
import { contractTimestamp } from "../domain/time.js";
import { DELIVERY_ID, MAX_WEBHOOKS, WEBHOOK_ID, webhookUrlProblem, type createWebhookSchema, type updateWebhookSchema } from "../domain/webhooks.js";
import { conflict, errorMessage, notFound, unavailable, unprocessable } from "../errors.js";
import { newWebhookId, type AttemptRecord, type DeliveryRecord, type WebhookRecord } from "../repos/webhooks.js";
import type { Services } from "../services.js";
import { cloudEventBody, deliveryIdOf, eventSource, newEvent } from "../webhooks/events.js";
import { newWebhookSecret } from "../webhooks/signing.js";

/** A subscription as the API shows it: never its secret. */
export function webhookView(webhook: WebhookRecord) {
  return {
    webhook_id: webhook.webhookId,
    url: webhook.url,
    events: webhook.events,
    description: webhook.description,
    enabled: webhook.enabled,
    created_by: webhook.createdBy,
    date_created: webhook.dateCreated,
    date_updated: webhook.dateUpdated,
  };
}

/** One attempt as the API shows it. */
export function attemptView(attempt: AttemptRecord) {
  return {
    attempt: attempt.attempt,
    status: attempt.state === "done" ? "done" : "in_progress",
    date: attempt.date,
    duration_ms: attempt.durationMs,
    status_code: attempt.statusCode,
    error: attempt.error,
    response_body: attempt.responseBody,
    next_retry: attempt.nextRetryAt,
  };
}

/** A delivery as the API shows it, with its attempts (oldest first). */
export function deliveryView(delivery: DeliveryRecord, attempts: AttemptRecord[]) {
  return {
    delivery_id: delivery.deliveryId,
    webhook_id: delivery.webhookId,
    event_id: delivery.eventId,
    event_type: delivery.eventType,
    subject: delivery.subject,
    event_time: delivery.eventTime,
    status: delivery.status,
    attempt_count: delivery.attempts,
    next_attempt_at: delivery.status === "pending" ? delivery.nextAttemptAt : null,
    last_status_code: delivery.lastStatusCode,
    last_error: delivery.lastError,
    date_created: delivery.dateCreated,
    date_updated: delivery.dateUpdated,
    attempts: attempts.map(attemptView),
  };
}

function urlOrThrow(services: Services, url: string): string {
  const problem = webhookUrlProblem(url, services.config.settings.WEBHOOK_ALLOW_PRIVATE_TARGETS);
  if (problem) throw unprocessable(`url ${problem}`);
  return new URL(url).href;
}

/** A subscription by id; 404 for an unknown or malformed one. */
export async function getWebhook(services: Services, webhookId: string): Promise<WebhookRecord> {
  const webhook = WEBHOOK_ID.test(webhookId) ? await services.webhooks.get(webhookId) : undefined;
  if (!webhook) throw notFound(`no webhook ${JSON.stringify(webhookId.slice(0, 40))}`);
  return webhook;
}

/** Creates an enabled subscription; the answer holds its secret, which is never shown again. 409 past MAX_WEBHOOKS. */
export async function createWebhook(services: Services, principal: Principal, input: z.infer<typeof createWebhookSchema>) {
  const url = urlOrThrow(services, input.url);
  if ((await services.webhooks.list()).length >= MAX_WEBHOOKS) throw conflict(`there are ${MAX_WEBHOOKS} webhooks already; delete one first`);
  const now = contractTimestamp();
  const webhook = await services.webhooks.create({
    webhookId: newWebhookId(),
    url,
    events: input.events,
    description: input.description ?? null,
    enabled: true,
    secret: newWebhookSecret(),
    createdBy: principal.email,
    dateCreated: now,
    dateUpdated: now,
  });
  return { ...webhookView(webhook), secret: webhook.secret };
}

/** A page of subscriptions, oldest first. */
export async function webhooksPage(services: Services, page: PageRequest): Promise<{ total: number; webhooks: WebhookRecord[] }> {
  const all = await services.webhooks.list();
  return { total: all.length, webhooks: all.slice(pageOffset(page), pageOffset(page) + page.perPage) };
}

/** Changes a subscription's url, events, description or enabled flag. */
export async function updateWebhook(services: Services, webhookId: string, input: z.infer<typeof updateWebhookSchema>): Promise<WebhookRecord> {
  const url = input.url === undefined ? undefined : urlOrThrow(services, input.url);
  await getWebhook(services, webhookId);
  const updated = await services.webhooks.update(webhookId, () => ({
    ...(url !== undefined ? { url } : {}),
    ...(input.events !== undefined ? { events: input.events } : {}),
    ...(input.description !== undefined ? { description: input.description } : {}),
    ...(input.enabled !== undefined ? { enabled: input.enabled } : {}),
    dateUpdated: contractTimestamp(),
  }));
  if (!updated) throw notFound(`no webhook ${JSON.stringify(webhookId)}`);
  return updated;
}

/** Deletes a subscription: nothing more is delivered to it (attempts already queued find it gone and end failed). */
export async function deleteWebhook(services: Services, webhookId: string): Promise<void> {
  await getWebhook(services, webhookId);
  if (!(await services.webhooks.delete(webhookId))) throw notFound(`no webhook ${JSON.stringify(webhookId)}`);
}

/** Queues attempt 1 of a new delivery; when the queue refuses, the delivery ends failed and the request answers 503. */
async function queueFirstAttempt(services: Services, webhookId: string, position: number): Promise<void> {
  try {
    await services.queue.send("webhook-deliver", { webhookId, position, attempt: 1 });
  } catch (error) {
    await services.webhooks
      .updateDelivery(webhookId, position, (d) =>
        d.status === "pending" && d.attempts === 0 ? { status: "failed", nextAttempt: 0, lastError: "could not be queued" } : null,
      )
      .catch(() => undefined);
    throw unavailable(`could not queue the delivery (${errorMessage(error)}); try again`);
  }
}

/** Sends a `webhook.ping` event to one subscription through the usual delivery path (enabled or not); answers the delivery. */
export async function pingWebhook(services: Services, webhookId: string) {
  const webhook = await getWebhook(services, webhookId);
  const event = newEvent("webhook.ping", `webhooks/${webhook.webhookId}`, { webhook_id: webhook.webhookId, url: webhook.url });
  const deliveryId = deliveryIdOf(event.id, webhook.webhookId);
  const body = cloudEventBody(event, eventSource(services.config.settings, services.config.prefix));
  const [position] = await services.webhooks.addDeliveries(webhook.webhookId, [{ deliveryId, event, body }], contractTimestamp());
  await queueFirstAttempt(services, webhook.webhookId, position!);
  return deliveryView((await services.webhooks.getDelivery(webhook.webhookId, position!))!, []);
}

/** A page of a subscription's deliveries, newest first, each with its attempts. */
export async function deliveriesPage(services: Services, webhookId: string, page: PageRequest) {
  await getWebhook(services, webhookId);
  const { total, deliveries } = await services.webhooks.deliveryPage(webhookId, pageOffset(page), page.perPage);
  return { total, deliveries: deliveries.map((d) => deliveryView(d, d.attemptList)) };
}

/**
 * Starts a delivered or failed delivery again: a new round of attempts with the same body and `webhook-id`, the
 * retry schedule counted from its first attempt. 409 while it is still pending.
 */
export async function redeliver(services: Services, webhookId: string, deliveryId: string) {
  await getWebhook(services, webhookId);
  const position = DELIVERY_ID.test(deliveryId) ? await services.webhooks.findDelivery(webhookId, deliveryId) : undefined;
  if (position === undefined) throw notFound(`webhook ${webhookId} has no delivery ${JSON.stringify(deliveryId.slice(0, 60))}`);
  let pending = false;
  let before: Pick<DeliveryRecord, "status" | "roundStart" | "nextAttempt" | "nextAttemptAt" | "dateUpdated"> | undefined;
  const now = contractTimestamp();
  const restarted = await services.webhooks.updateDelivery(webhookId, position, (d) => {
    pending = d.status === "pending";
    before = { status: d.status, roundStart: d.roundStart, nextAttempt: d.nextAttempt, nextAttemptAt: d.nextAttemptAt, dateUpdated: d.dateUpdated };
    return pending ? null : { status: "pending", roundStart: d.attempts + 1, nextAttempt: d.attempts + 1, nextAttemptAt: now, dateUpdated: now };
  });
  if (!restarted) throw notFound(`webhook ${webhookId} has no delivery ${JSON.stringify(deliveryId)}`);
  if (pending) throw conflict(`delivery ${deliveryId} is still pending (attempt ${restarted.nextAttempt} is due ${restarted.nextAttemptAt ?? "now"})`);
  try {
    await services.queue.send("webhook-deliver", { webhookId, position, attempt: restarted.nextAttempt });
  } catch (error) {
    // Back to exactly what it was.
    await services.webhooks
      .updateDelivery(webhookId, position, (d) =>
        d.status === "pending" && d.nextAttempt === restarted.nextAttempt && d.attempts === restarted.attempts ? before! : null,
      )
      .catch(() => undefined);
    throw unavailable(`could not queue the redelivery (${errorMessage(error)}); try again`);
  }
  return deliveryView(restarted, await services.webhooks.attempts(webhookId, position));
}
