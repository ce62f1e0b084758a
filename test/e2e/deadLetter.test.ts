import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { poisonQueueName } from "../../shared/queue/storageQueue.js";
import { png } from "../support/images.js";
import { call, startTestStack, uploadToDropbox, waitFor, type TestStack } from "../support/stack.js";

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ settings: { MAX_DELIVERY_COUNT: "3" } });
});
afterAll(async () => stack?.stop());

describe("a job that keeps failing", () => {
  it("is retried, dead-lettered with its reason after MAX_DELIVERY_COUNT deliveries, and its resource shows the failure", async () => {
    const set = (await call(stack, "POST", "/image_sets", stack.admin, { title: "doomed" })).body;
    await uploadToDropbox(set.dropbox_url, "a.png", await png(8, 8));
    // The image store disappears: every copy attempt fails.
    await stack.host.services.clients.blobService.getContainerClient(stack.config.imageContainer).delete();
    expect((await call(stack, "PUT", `/image_sets/${set.imageset_id}`, stack.admin, { new_status: "finished" })).body).toBe("ok");
    const failed = await waitFor("set failed", async () => {
      const r = (await call(stack, "GET", `/image_sets/${set.imageset_id}`, stack.admin)).body;
      return r.status === "failed" ? r : undefined;
    });
    expect(failed.failure_reason).toMatch(/ContainerNotFound|container/i);
    const retries = stack.logs.filter((l) => l.includes('"job":"imageset-copy"') && l.includes("failed, will retry"));
    expect(retries).toHaveLength(2);

    const poison = stack.host.services.clients.queueService.getQueueClient(poisonQueueName(stack.config.queue("imageset-copy")));
    const dead = await waitFor("dead letter", async () => (await poison.receiveMessages()).receivedMessageItems[0]);
    const letter = JSON.parse(Buffer.from(dead.messageText, "base64").toString());
    expect(letter).toMatchObject({ deliveries: 3, envelope: { type: "imageset-copy", body: { imagesetId: set.imageset_id } } });
    expect(letter.reason).toMatch(/container/i);

    // The admin fixes the cause and finishes the set again: it goes through.
    await stack.host.services.clients.blobService.getContainerClient(stack.config.imageContainer).createIfNotExists();
    expect((await call(stack, "PUT", `/image_sets/${set.imageset_id}`, stack.admin, { new_status: "finished" })).body).toBe("ok");
    await waitFor("finished", async () => (await call(stack, "GET", `/image_sets/${set.imageset_id}`, stack.admin)).body.status === "finished");
  });

  it("an invalid message goes to the poison queue at once", async () => {
    const queue = stack.host.services.clients.queueService.getQueueClient(stack.config.queue("export-run"));
    await queue.sendMessage(Buffer.from(JSON.stringify({ type: "export-run", messageId: "bad-1", body: { exportId: 42 } })).toString("base64"));
    const poison = stack.host.services.clients.queueService.getQueueClient(poisonQueueName(stack.config.queue("export-run")));
    const dead = await waitFor("dead letter", async () => (await poison.receiveMessages()).receivedMessageItems[0]);
    const letter = JSON.parse(Buffer.from(dead.messageText, "base64").toString());
    expect(letter.deliveries).toBe(1);
    expect(letter.reason).toMatch(/invalid export-run message: exportId/);
  });
});
