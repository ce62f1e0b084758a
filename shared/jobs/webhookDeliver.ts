import { parseRetrySchedule, retryDelaySeconds } from "../domain/webhooks.js";
import { contractTimestamp } from "../domain/time.js";
import type { JobBody } from "../queue/messages.js";
import type { DeliveryStatus } from "../repos/webhooks.js";
import type { Services } from "../services.js";
import { APP_VERSION } from "../version.js";
import { postWebhook, type AttemptResult } from "../webhooks/http.js";
import { webhookHeaders } from "../webhooks/signing.js";
import type { JobLog } from "./runtime.js";

/** How long an attempt stays claimed by the worker making it: well past its 10 s timeout; an older claim is taken over. */
export const CLAIM_SECONDS = 60;

/**
 * Makes one attempt of a webhook delivery, at least once and at most once per attempt number: a message for an attempt
 * that is not the delivery's next one (made already, or the delivery is over) does nothing; the attempt is claimed
 * first, so a duplicate message meeting a live claim only looks again once the claim has run out (the claimant may
 * have died). The request is signed with this attempt's timestamp under the delivery's stable `webhook-id`. A 2xx
 * delivers; anything else (3xx included: redirects are not followed) is recorded, and the next attempt is queued,
 * delayed by the retry schedule, before the outcome is written; past the schedule the delivery has failed.
 */
export async function runWebhookDeliver(services: Services, body: JobBody<"webhook-deliver">, log: JobLog): Promise<void> {
  const { webhookId, position, attempt } = body;
  const store = services.webhooks;
  const delivery = await store.getDelivery(webhookId, position);
  if (!delivery) {
    log.warn("no such delivery; nothing to do");
    return;
  }
  if (delivery.status !== "pending" || delivery.nextAttempt !== attempt) {
    log.info(`delivery ${delivery.deliveryId} is ${delivery.status} after ${delivery.attempts} attempts; attempt ${attempt} is not due`);
    return;
  }
  const claim = await store.claimAttempt(webhookId, position, attempt, CLAIM_SECONDS * 1000);
  if (claim.state === "done") return;
  if (claim.state === "busy") {
    const wait = Math.max(1, Math.ceil((claim.until - Date.now()) / 1000) + 1);
    await services.queue.send("webhook-deliver", body, { delaySeconds: wait });
    log.info(`attempt ${attempt} of ${delivery.deliveryId} is claimed by another worker; looking again in ${wait} s`);
    return;
  }

  const started = new Date();
  const subscription = await store.get(webhookId);
  let result: AttemptResult;
  let final = false;
  if (!subscription || (!subscription.enabled && delivery.eventType !== "webhook.ping")) {
    result = { statusCode: null, error: subscription ? "the subscription is disabled" : "the subscription was deleted", durationMs: 0, responseBody: "" };
    final = true;
  } else {
    const timestamp = Math.floor(Date.now() / 1000);
    result = await postWebhook(subscription.url, webhookHeaders(subscription.secret, delivery.deliveryId, timestamp, delivery.body), delivery.body, {
      allowPrivate: services.config.settings.WEBHOOK_ALLOW_PRIVATE_TARGETS,
      userAgent: `label-pipeline-webhooks/${APP_VERSION}`,
    });
    if (result.statusCode !== null && result.statusCode >= 300 && result.statusCode < 400) {
      result = { ...result, error: `answered ${result.statusCode}: redirects are not followed (give the subscription the final URL)` };
    }
  }

  const delivered = result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300;
  const delay =
    delivered || final ? undefined : retryDelaySeconds(parseRetrySchedule(services.config.settings.WEBHOOK_RETRY_SCHEDULE), attempt - delivery.roundStart);
  const status: DeliveryStatus = delivered ? "delivered" : delay === undefined ? "failed" : "pending";
  const next = delay === undefined ? undefined : { attempt: attempt + 1, at: contractTimestamp(new Date(Date.now() + delay * 1000)) };
  // Queued before the outcome is written: if writing fails, this message comes back and the attempt is made again;
  // the early message then finds its attempt not due yet and does nothing, and the repeat queues another.
  if (next) await services.queue.send("webhook-deliver", { webhookId, position, attempt: next.attempt }, { delaySeconds: delay });
  const recorded = await store.finishAttempt(webhookId, position, attempt, claim, {
    date: contractTimestamp(started),
    durationMs: result.durationMs,
    statusCode: result.statusCode,
    error: result.error,
    responseBody: result.responseBody,
    status,
    next,
  });
  const outcome = result.statusCode !== null ? `answered ${result.statusCode}` : `failed: ${result.error}`;
  log.info(
    `${delivery.eventType} ${delivery.deliveryId} attempt ${attempt} ${outcome} in ${result.durationMs} ms: ${status}${next ? `, attempt ${next.attempt} in ${delay} s` : ""}` +
      (recorded ? "" : " (not recorded: the attempt was taken over or the delivery moved on)"),
  );
}

/** A delivery whose attempt message failed for good (storage trouble, not the receiver's answer) ends failed with the reason. */
export async function failWebhookDeliver(services: Services, body: JobBody<"webhook-deliver">, reason: string): Promise<void> {
  await services.webhooks.updateDelivery(body.webhookId, body.position, (d) =>
    d.status === "pending" && d.nextAttempt === body.attempt
      ? { status: "failed", nextAttempt: 0, nextAttemptAt: null, lastError: reason.slice(0, 1000), dateUpdated: contractTimestamp() }
      : null,
  );
}
