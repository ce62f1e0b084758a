import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { QueueClient } from "@azure/storage-queue";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeEnvelope, StorageQueueWorker, type DeliveryInfo } from "../../shared/queue/storageQueue.js";
import { createStorageClients } from "../../shared/storage/clients.js";
import { mapLimit } from "../../shared/util/concurrency.js";
import { testConfig } from "../support/env.js";
import { png } from "../support/images.js";
import { call, uploadToDropbox, waitFor } from "../support/stack.js";
import { npmStartCommand } from "../../scripts/npmStart.js";

const encode = (body: unknown) => Buffer.from(JSON.stringify({ type: "export-run", messageId: String(body), body })).toString("base64");

describe("StorageQueueWorker.stop", () => {
  let queue: QueueClient;
  let poison: QueueClient;
  beforeAll(async () => {
    const config = testConfig();
    const clients = createStorageClients(config);
    queue = clients.queueService.getQueueClient(`${config.prefix}handback`);
    poison = clients.queueService.getQueueClient(`${config.prefix}handback-poison`);
    await Promise.all([queue.create(), poison.create()]);
  });

  it("lets handlers finish within the grace, hands back the rest at once, and ignores their late outcome", async () => {
    const logs: string[] = [];
    const started = new Set<string>();
    let failLate: (error: Error) => void = () => {};
    const worker = new StorageQueueWorker({
      queue,
      poison,
      // One delivery only: had the late failure counted, it would be dead-lettered.
      maxDeliveries: 1,
      concurrency: 3,
      idlePollMs: 50,
      log: (line) => logs.push(line),
      handler: async (envelope) => {
        const kind = String(envelope.body);
        started.add(kind);
        if (kind === "never") await new Promise(() => {});
        if (kind === "late") await new Promise((_, reject) => (failLate = reject));
        if (kind === "quick") await new Promise((resolve) => setTimeout(resolve, 100));
      },
    });
    for (const kind of ["never", "late", "quick"]) await queue.sendMessage(encode(kind));
    worker.start();
    await waitFor("all three handlers running", async () => started.size === 3);

    const before = Date.now();
    const result = await worker.stop({ graceMs: 300 });
    expect(Date.now() - before).toBeLessThan(1500);
    expect(result).toEqual({ inFlight: 3, handedBack: 2 });

    // Visible again right away, each with its hand-back counted; the quick one was deleted as usual.
    const visible = (await queue.peekMessages({ numberOfMessages: 32 })).peekedMessageItems;
    expect(visible.map((m) => String(decodeEnvelope(m.messageText).body)).sort()).toEqual(["late", "never"]);
    expect(visible.map((m) => (decodeEnvelope(m.messageText) as { handBacks?: number }).handBacks)).toEqual([1, 1]);

    // The abandoned handler fails afterwards: one log line, and the message is left alone.
    failLate(new Error("too late"));
    await waitFor("late outcome logged", async () => logs.some((l) => l.includes("handed back at stop") && l.includes("failed (too late)")));
    expect((await poison.peekMessages()).peekedMessageItems).toHaveLength(0);
    expect((await queue.peekMessages({ numberOfMessages: 32 })).peekedMessageItems).toHaveLength(2);
    expect(logs.filter((l) => /dead-lettered|retrying/.test(l))).toEqual([]);

    // The next worker takes them up at once, and a hand-back does not use up a delivery.
    const deliveries: DeliveryInfo[] = [];
    const next = new StorageQueueWorker({ queue, poison, maxDeliveries: 1, idlePollMs: 50, handler: async (_, delivery) => void deliveries.push(delivery) });
    next.start();
    await waitFor("both delivered again", async () => deliveries.length === 2, 5000);
    expect(await next.stop({ graceMs: 1000 })).toEqual({ inFlight: 0, handedBack: 0 });
    expect(deliveries.map((d) => d.deliveryCount)).toEqual([1, 1]);
    expect((await queue.peekMessages()).peekedMessageItems).toHaveLength(0);
    expect((await poison.peekMessages()).peekedMessageItems).toHaveLength(0);
  });

  it("still retries a failing message and dead-letters it after maxDeliveries", async () => {
    const logs: string[] = [];
    const worker = new StorageQueueWorker({
      queue,
      poison,
      maxDeliveries: 2,
      idlePollMs: 50,
      retryDelaySeconds: () => 0,
      log: (line) => logs.push(line),
      handler: async () => {
        throw new Error("always");
      },
    });
    await queue.sendMessage(encode("failing"));
    worker.start();
    const dead = await waitFor("dead letter", async () => (await poison.receiveMessages()).receivedMessageItems[0], 10_000);
    expect(await worker.stop({ graceMs: 1000 })).toMatchObject({ handedBack: 0 });
    expect(JSON.parse(Buffer.from(dead.messageText, "base64").toString())).toMatchObject({ deliveries: 2, reason: "always", envelope: { body: "failing" } });
    expect(logs.filter((l) => l.includes("retrying"))).toHaveLength(1);
    expect((await queue.peekMessages()).peekedMessageItems).toHaveLength(0);
  });

  it("stops at once when idle", async () => {
    const worker = new StorageQueueWorker({ queue, poison, maxDeliveries: 5, idlePollMs: 50, handler: async () => {} });
    worker.start();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const before = Date.now();
    expect(await worker.stop()).toEqual({ inFlight: 0, handedBack: 0 });
    expect(Date.now() - before).toBeLessThan(1000);
  });
});

/** A free HTTP port and a free run of three for Azurite (blob, queue = +1, table = +2). */
async function freePorts(): Promise<{ http: number; azurite: number }> {
  const listen = (port: number) =>
    new Promise<ReturnType<typeof createServer> | undefined>((resolve) => {
      const server = createServer();
      server.once("error", () => resolve(undefined));
      server.listen(port, "127.0.0.1", () => resolve(server));
    });
  const close = (servers: Array<ReturnType<typeof createServer> | undefined>) =>
    Promise.all(servers.filter((s) => s !== undefined).map((s) => new Promise((resolve) => s.close(resolve))));
  for (;;) {
    const first = await listen(0);
    const base = (first!.address() as { port: number }).port;
    const rest = base < 65533 ? [await listen(base + 1), await listen(base + 2)] : [];
    const http = await listen(0);
    const ok = rest.length === 2 && rest.every(Boolean) && http;
    const ports = { http: http ? (http.address() as { port: number }).port : 0, azurite: base };
    await close([first, ...rest, http]);
    if (ok) return ports;
  }
}

interface Stack {
  child: ChildProcess;
  lines: string[];
  exited: Promise<number | null>;
}

const API_TIMEOUT_MS = 30_000;

/** `npm start`'s script as a child in its own process group, so a group signal reaches it like Ctrl-C. */
async function startStack(env: Record<string, string>): Promise<Stack> {
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
  delete childEnv.STORAGE_CONNECTION_STRING;
  delete childEnv.STORAGE_ACCOUNT_NAME;
  delete childEnv.RESOURCE_PREFIX;
  const start = npmStartCommand();
  const child = spawn(start.command, start.args, { cwd: start.cwd, env: childEnv, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString().split("\n")) if (line.trim()) lines.push(line);
    if (process.env.TEST_LOG) process.stdout.write(chunk);
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  await waitFor("the API", async () => lines.some((l) => l.startsWith("API: ")) || child.exitCode !== null, API_TIMEOUT_MS);
  if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode}:\n${lines.join("\n")}`);
  return { child, lines, exited };
}

/** SIGTERM to the stack's process group, as a terminal's Ctrl-C or a service manager would send it. */
async function stopStack(stack: Stack): Promise<{ code: number | null; ms: number }> {
  const before = Date.now();
  process.kill(-stack.child.pid!, "SIGTERM");
  const code = await Promise.race([stack.exited, new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), 15_000))]);
  if (code === "timeout") throw new Error(`npm start did not exit within 15 s after SIGTERM:\n${stack.lines.join("\n")}`);
  return { code, ms: Date.now() - before };
}

function portIsClosed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

describe("stopping npm start", () => {
  const IMAGES = 300;
  let location: string;
  let env: Record<string, string>;
  const stacks: Stack[] = [];
  beforeAll(async () => {
    location = await mkdtemp(join(tmpdir(), "label-pipeline-stop-"));
    const ports = await freePorts();
    env = {
      PORT: String(ports.http),
      AZURITE_BLOB_PORT: String(ports.azurite),
      AZURITE_LOCATION: location,
      COPY_CONCURRENCY: "1",
      LOCAL_ADMIN_KEY: "stop-test-admin",
      LOCAL_ADMIN_SECRET: "stop-test-secret",
    };
  });
  afterAll(async () => {
    for (const stack of stacks) if (stack.child.exitCode === null) process.kill(-stack.child.pid!, "SIGKILL");
    await rm(location, { recursive: true, force: true });
  });

  it("finishes or hands back the copy job in flight, stops Azurite last, and the job resumes on the next start", async () => {
    const api = { url: `http://127.0.0.1:${env.PORT}/api/v1` };
    const admin = { "Authentication-Key": env.LOCAL_ADMIN_KEY!, "Authentication-Secret": env.LOCAL_ADMIN_SECRET! };
    const first = await startStack(env);
    stacks.push(first);

    const set = (await call(api, "POST", "/image_sets", admin, { title: "stopped-half-way" })).body;
    const files = await Promise.all(Array.from({ length: IMAGES }, (_, i) => png(8 + (i % 5), 8, i)));
    await mapLimit(files, 16, (bytes, i) => uploadToDropbox(set.dropbox_url, `img-${String(i).padStart(3, "0")}.png`, bytes));
    expect((await call(api, "PUT", `/image_sets/${set.imageset_id}`, admin, { new_status: "finished" })).body).toBe("ok");
    // The job is under way: processing, with a first chunk recorded.
    await waitFor("copy under way", async () => {
      const r = (await call(api, "GET", `/image_sets/${set.imageset_id}`, admin)).body;
      return r.status === "processing" && r.image_count > 0;
    });

    const { code, ms } = await stopStack(first);
    const log = first.lines;
    expect(code, log.join("\n")).toBe(0);
    expect(ms).toBeLessThan(10_000);
    const at = (pattern: RegExp) => log.findIndex((l) => pattern.test(l));
    const workersStopped = at(/^local host: workers stopped/);
    expect(workersStopped).toBeGreaterThan(-1);
    expect(workersStopped).toBeLessThan(at(/^stopping Azurite/));
    expect(at(/^stopping Azurite/)).toBeLessThan(at(/Azurite .*service is closing/));
    // Either the job finished in the grace or its message went back to the queue.
    const handedBack = /handed back [1-9]/.test(log[workersStopped]!);
    const finished = log.slice(0, workersStopped).some((l) => l.includes('"job":"imageset-copy"') && l.includes("done in"));
    expect(handedBack || finished, log.join("\n")).toBe(true);
    expect(log.filter((l) => /failed for good|dead-lettered/.test(l))).toEqual([]);
    expect(await portIsClosed(Number(env.AZURITE_BLOB_PORT))).toBe(true);

    const second = await startStack(env);
    stacks.push(second);
    const done = await waitFor(
      "the set finished after the restart",
      async () => {
        const r = (await call(api, "GET", `/image_sets/${set.imageset_id}`, admin)).body;
        return r.status === "finished" ? r : undefined;
      },
      40_000,
    );
    expect(done.image_count).toBe(IMAGES);
    expect(done.rejected_files).toEqual([]);
    const members = (await call(api, "GET", `/image_sets/${set.imageset_id}/images?per_page=1000`, admin)).body;
    expect(members.pagination.total).toBe(IMAGES);
    expect(new Set(members.images.map((i: { blobstorage_path: string }) => i.blobstorage_path)).size).toBe(IMAGES);
    expect((await call(api, "GET", "/images?per_page=1", admin)).body.pagination.total).toBe(IMAGES);
    expect(second.lines.filter((l) => /failed for good|dead-lettered/.test(l))).toEqual([]);
    // A handed-back message comes back as the same delivery: the stop did not use one up.
    if (handedBack) expect(second.lines.some((l) => l.includes('"job":"imageset-copy"') && l.includes('"delivery":1') && l.includes("done in"))).toBe(true);

    expect((await stopStack(second)).code).toBe(0);
  }, 90_000);
});
