import "./quietTestMode.js";
import azureFunctions from "@azure/functions";
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { httpFunctions, workerFunctions } from "../functions/index.js";
import type { AppConfig } from "../shared/config.js";
import type { HttpFunctionDefinition } from "../shared/http/definition.js";
import type { ResponseInit } from "../shared/http/request.js";
import type { JobSender } from "../shared/queue/messages.js";
import { poisonQueueName, StorageQueueWorker } from "../shared/queue/storageQueue.js";
import { createServices, setServices, type Services } from "../shared/services.js";
import { provisionStorage } from "../shared/storage/provision.js";

// Under plain Node ESM these three classes are only on the default export.
const { HttpRequest, InvocationContext } = azureFunctions;

export interface LocalHostOptions {
  config: AppConfig;
  /** Run the queue workers (default true); tests of the HTTP surface alone may turn them off. */
  workers?: boolean;
  /** Messages handled at once per queue. */
  workerConcurrency?: number;
  /** Lock (visibility) timeout of local queue messages. */
  visibilityTimeoutSeconds?: number;
  retryDelaySeconds?: (deliveryCount: number) => number;
  log?: (line: string) => void;
  queue?: JobSender;
}

export interface LocalHost {
  url: string;
  port: number;
  services: Services;
  stop(): Promise<void>;
}

interface CompiledRoute {
  definition: HttpFunctionDefinition;
  pattern: RegExp;
  names: string[];
}

/** Functions route templates (`v1/x/{id:int}`) as regular expressions, like the Functions host matches them. */
export function compileRoute(definition: HttpFunctionDefinition): CompiledRoute {
  const names: string[] = [];
  const source = definition.route
    .split("/")
    .map((segment) =>
      segment.replace(/\{([A-Za-z_][A-Za-z0-9_]*)(?::(int|alpha))?\}|[^{]+/g, (match, name: string | undefined, constraint: string | undefined) => {
        if (!name) return match.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        names.push(name);
        return constraint === "int" ? "(-?[0-9]+)" : constraint === "alpha" ? "([A-Za-z]+)" : "([^/]+)";
      }),
    )
    .join("/");
  return { definition, pattern: new RegExp(`^/api/${source}/?$`, "i"), names };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer | "too-large"> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on("data", (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        resolve("too-large");
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => !done && resolve(Buffer.concat(chunks)));
    req.on("error", (error) => !done && reject(error));
  });
}

function writeResponse(res: ServerResponse, response: ResponseInit): void {
  const headers: Record<string, string> = { ...(response.headers ?? {}) };
  if (response.jsonBody !== undefined) {
    const text = JSON.stringify(response.jsonBody);
    headers["Content-Type"] ??= "application/json; charset=utf-8";
    headers["Content-Length"] = String(Buffer.byteLength(text));
    res.writeHead(response.status, headers);
    res.end(text);
    return;
  }
  if (response.body !== undefined) headers["Content-Length"] = String(Buffer.byteLength(response.body));
  res.writeHead(response.status, headers);
  res.end(response.body);
}

/**
 * The local stand-in for the Functions host: serves every HTTP function on /api/..., and runs every
 * worker function from its Storage queue, calling the very handlers that Azure calls.
 */
export async function startLocalHost(options: LocalHostOptions): Promise<LocalHost> {
  const { config } = options;
  const log = options.log ?? ((line: string) => console.log(line));
  const services = createServices(config, { queue: options.queue });
  setServices(services);
  await provisionStorage(config, services.clients, { queues: true });
  const routes = httpFunctions.map(compileRoute);
  const maxBody = config.settings.MAX_BODY_BYTES;

  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", `http://${req.headers.host ?? "localhost"}`);
      const path = decodeURIComponent(url.pathname);
      const matches = routes.map((r) => ({ route: r, match: r.pattern.exec(path) })).filter((m) => m.match);
      if (matches.length === 0) return sendJson(res, 404, { status: 404, detail: `no route ${url.pathname}` });
      const method = (req.method ?? "GET").toUpperCase();
      const hit = matches.find((m) => m.route.definition.methods.includes(method as never));
      if (!hit) {
        const allowed = [...new Set(matches.flatMap((m) => m.route.definition.methods))];
        res.setHeader("Allow", allowed.join(", "));
        return sendJson(res, 405, { status: 405, detail: `${method} is not allowed on ${url.pathname}; use ${allowed.join(" or ")}` });
      }
      const body = await readBody(req, maxBody);
      if (body === "too-large") {
        res.setHeader("Connection", "close");
        return sendJson(res, 413, { status: 413, detail: `request body is larger than ${maxBody} bytes` });
      }
      const params: Record<string, string> = {};
      hit.route.names.forEach((name, i) => (params[name] = hit.match![i + 1]!));
      const headers: Record<string, string> = {};
      for (const [key, value] of Object.entries(req.headers)) if (value !== undefined) headers[key] = Array.isArray(value) ? value.join(", ") : value;
      const request = new HttpRequest({
        method,
        url: url.toString(),
        headers,
        query: Object.fromEntries(url.searchParams),
        params,
        body: body.length ? { bytes: body } : undefined,
      });
      const context = new InvocationContext({ invocationId: randomUUID(), functionName: hit.route.definition.name, logHandler: (level, ...args) => log(`[${level}] ${args.join(" ")}`) });
      writeResponse(res, await hit.route.definition.handler(request as never, context));
    })().catch((error: unknown) => {
      log(`local host: ${error instanceof Error ? error.stack : String(error)}`);
      if (!res.headersSent) sendJson(res, 500, { status: 500, detail: "internal error" });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(config.settings.PORT, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;

  const workers = (options.workers ?? true)
    ? workerFunctions.map((fn) => {
        const queueName = config.queue(fn.type);
        const worker = new StorageQueueWorker({
          queue: services.clients.queueService.getQueueClient(queueName),
          poison: services.clients.queueService.getQueueClient(poisonQueueName(queueName)),
          maxDeliveries: config.settings.MAX_DELIVERY_COUNT,
          // Progress messages all move one count row per campaign: run them one at a time, since parallel
          // ones mostly lose the ETag race and retry (measured: completion 3.7x sooner than with 8).
          concurrency: options.workerConcurrency ?? (fn.type === "campaign-progress" ? 1 : 8),
          visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 60,
          retryDelaySeconds: options.retryDelaySeconds,
          log,
          handler: async (envelope, delivery) => {
            const context = new InvocationContext({
              invocationId: randomUUID(),
              functionName: fn.name,
              triggerMetadata: { messageId: delivery.messageId, deliveryCount: delivery.deliveryCount, enqueuedTimeUtc: delivery.enqueuedTime?.toISOString() },
              logHandler: (level, ...args) => log(`[${level}] ${args.join(" ")}`),
            });
            await fn.handler(envelope.body, context);
          },
        });
        worker.start();
        return worker;
      })
    : [];

  return {
    url: `http://127.0.0.1:${port}/api/v1`,
    port,
    services,
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await Promise.all(workers.map((w) => w.stop()));
      await services.queue.close();
    },
  };
}
