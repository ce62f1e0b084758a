import "./quietTestMode.js";
import azureFunctions from "@azure/functions";
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { httpFunctions, workerFunctions } from "../functions/index.js";
import type { AppConfig } from "../shared/config.js";
import { ApiError, badRequest, errorMessage } from "../shared/errors.js";
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

export interface LocalHostStopOptions {
  /** How long queue handlers in flight may run on before their messages are handed back (default 5000 ms). */
  graceMs?: number;
}

export interface LocalHost {
  url: string;
  port: number;
  services: Services;
  /** Stops taking requests and messages, lets work in flight finish (or hands it back), closes the sender. */
  stop(options?: LocalHostStopOptions): Promise<void>;
}

/** How long HTTP requests in flight get to finish once the host stops, before their connections are cut. */
const HTTP_DRAIN_MS = 1000;
/** Longest piece of a client's input quoted back in an error detail. */
const QUOTE_CHARS = 200;

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
  // The client may be gone (an aborted upload, a parse error that closed the socket): nothing to answer.
  if (res.headersSent || res.destroyed || res.writableEnded) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

const quote = (text: string) => JSON.stringify(text.length > QUOTE_CHARS ? `${text.slice(0, QUOTE_CHARS)}...` : text);

/** The origin handlers see in `request.url`: the Host header when it is a plain host[:port], else localhost. */
function originOf(host: string | undefined): string {
  if (!host || !/^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?$/.test(host)) return "http://localhost";
  try {
    return new URL(`http://${host}`).origin;
  } catch {
    return "http://localhost";
  }
}

/**
 * The request target as a URL (for the query) and its path as sent, still percent-encoded: routes match
 * segment by segment on that, and each parameter is decoded on its own, so an encoded '/' stays inside
 * its segment. The path is not normalised: a '.' or '..' segment (sent as is or percent-encoded) would
 * make an id address another route, so it is refused. Anything that does not parse is the client's
 * mistake: a 400 naming it, never a 500.
 */
export function parseTarget(target: string | undefined, host: string | undefined): { url: URL; path: string } {
  let url: URL;
  try {
    url = new URL(target ?? "/", originOf(host));
  } catch {
    throw badRequest(`the request target ${quote(target ?? "")} is not a valid URL`);
  }
  const raw = (target ?? "/").startsWith("/") ? (target ?? "/").split(/[?#]/)[0]! : url.pathname;
  for (const segment of raw.split("/")) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      throw badRequest(`the path ${quote(raw)} has a malformed percent-escape (each % must start a %XX escape of valid UTF-8)`);
    }
    if (decoded === "." || decoded === "..") throw badRequest(`the path ${quote(raw)} holds a '${decoded}' segment`);
  }
  return { url, path: raw };
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
  if (res.headersSent || res.destroyed || res.writableEnded) return;
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

/** A routed request: the function to call and the request it gets. */
interface Routed {
  definition: HttpFunctionDefinition;
  request: InstanceType<typeof HttpRequest>;
}

/**
 * Everything between the socket and the handler. It works on the client's input only, so whatever fails
 * here (a target that does not parse, a body that cannot be read, headers the request class refuses) is
 * answered 400 by the caller. Answers 404, 405 and 413 itself and then returns undefined.
 */
async function route(req: IncomingMessage, res: ServerResponse, routes: CompiledRoute[], maxBody: number): Promise<Routed | undefined> {
  const { url, path } = parseTarget(req.url, req.headers.host);
  const matches = routes.map((r) => ({ route: r, match: r.pattern.exec(path) })).filter((m) => m.match);
  if (matches.length === 0) return void sendJson(res, 404, { status: 404, detail: `no route ${url.pathname}` });
  const method = (req.method ?? "GET").toUpperCase();
  const hit = matches.find((m) => m.route.definition.methods.includes(method as never));
  if (!hit) {
    const allowed = [...new Set(matches.flatMap((m) => m.route.definition.methods))];
    res.setHeader("Allow", allowed.join(", "));
    return void sendJson(res, 405, { status: 405, detail: `${method} is not allowed on ${url.pathname}; use ${allowed.join(" or ")}` });
  }
  let body: Buffer | "too-large";
  try {
    body = await readBody(req, maxBody);
  } catch (error) {
    throw badRequest(`the request body could not be read: ${errorMessage(error)}`);
  }
  if (body === "too-large") {
    res.setHeader("Connection", "close");
    return void sendJson(res, 413, { status: 413, detail: `request body is larger than ${maxBody} bytes` });
  }
  const params: Record<string, string> = {};
  // Segments were checked to decode in parseTarget.
  hit.route.names.forEach((name, i) => (params[name] = decodeURIComponent(hit.match![i + 1]!)));
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
  return { definition: hit.route.definition, request };
}

/** Statuses for requests Node's HTTP parser refuses before there is a request object. */
function clientErrorStatus(code: string | undefined): { status: number; reason: string } {
  if (code === "HPE_HEADER_OVERFLOW") return { status: 431, reason: "Request Header Fields Too Large" };
  if (code === "ERR_HTTP_REQUEST_TIMEOUT") return { status: 408, reason: "Request Timeout" };
  return { status: 400, reason: "Bad Request" };
}

/**
 * Answers a request the HTTP parser refused (bad header characters, a malformed request line, oversized
 * headers) with the same JSON error body as everything else, written straight to the socket since no
 * response object exists. Nothing is written when the client is gone or a response is already under way.
 */
function answerClientError(error: NodeJS.ErrnoException & { reason?: string }, socket: Duplex, responding: WeakMap<Duplex, ServerResponse>): void {
  const busy = responding.get(socket)?.headersSent ?? false;
  if (error.code !== "ECONNRESET" && socket.writable && !busy) {
    const { status, reason } = clientErrorStatus(error.code);
    const detail = `malformed HTTP request: ${error.reason ?? error.message}${error.code ? ` (${error.code})` : ""}`;
    const text = JSON.stringify({ status, detail });
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
    );
  }
  socket.destroy();
}

/** Stops taking connections; requests in flight get `drainMs` to finish before their connections are cut. */
function closeServer(server: Server, drainMs: number): Promise<void> {
  return new Promise((resolve) => {
    const cut = setTimeout(() => server.closeAllConnections(), drainMs);
    server.close(() => {
      clearTimeout(cut);
      resolve();
    });
    server.closeIdleConnections();
  });
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
  // The response under way on each socket, so a parser error on it does not write a second response into it.
  const responding = new WeakMap<Duplex, ServerResponse>();

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let routed: Routed | undefined;
    try {
      routed = await route(req, res, routes, maxBody);
    } catch (error) {
      if (!(error instanceof ApiError)) log(`local host: refused ${req.method} ${quote(req.url ?? "")}: ${errorMessage(error)}`);
      const detail = error instanceof ApiError ? error.detail : `the request could not be read: ${errorMessage(error)}`;
      return sendJson(res, 400, { status: 400, detail });
    }
    if (!routed) return;
    const context = new InvocationContext({
      invocationId: randomUUID(),
      functionName: routed.definition.name,
      logHandler: (level, ...args) => log(`[${level}] ${args.join(" ")}`),
    });
    writeResponse(res, await routed.definition.handler(routed.request, context));
  };

  const server: Server = createServer((req, res) => {
    responding.set(req.socket, res);
    res.once("close", () => responding.get(req.socket) === res && responding.delete(req.socket));
    // Only a genuine internal failure (a handler or the response writer throwing) gets here.
    serve(req, res).catch((error: unknown) => {
      log(`local host: ${error instanceof Error ? error.stack : String(error)}`);
      if (!res.headersSent) sendJson(res, 500, { status: 500, detail: "internal error" });
      else res.destroy();
    });
  });
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => answerClientError(error, socket, responding));
  await new Promise<void>((resolve) => server.listen(config.settings.PORT, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;

  const workers =
    (options.workers ?? true)
      ? workerFunctions.map((fn) => {
          const queueName = config.queue(fn.type);
          const worker = new StorageQueueWorker({
            queue: services.clients.queueService.getQueueClient(queueName),
            poison: services.clients.queueService.getQueueClient(poisonQueueName(queueName)),
            maxDeliveries: config.settings.MAX_DELIVERY_COUNT,
            concurrency: options.workerConcurrency ?? 8,
            visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 60,
            retryDelaySeconds: options.retryDelaySeconds,
            log,
            handler: async (envelope, delivery) => {
              const context = new InvocationContext({
                invocationId: randomUUID(),
                functionName: fn.name,
                triggerMetadata: {
                  messageId: delivery.messageId,
                  deliveryCount: delivery.deliveryCount,
                  enqueuedTimeUtc: delivery.enqueuedTime?.toISOString(),
                },
                logHandler: (level, ...args) => log(`[${level}] ${args.join(" ")}`),
              });
              await fn.handler(envelope.body, context);
            },
          });
          worker.start();
          return worker;
        })
      : [];

  let stopping: Promise<void> | undefined;
  const stop = async (graceMs: number): Promise<void> => {
    log(`local host: stopping: no new requests; stopping ${workers.length} workers (grace ${graceMs} ms)`);
    const [, results] = await Promise.all([closeServer(server, Math.min(graceMs, HTTP_DRAIN_MS)), Promise.all(workers.map((w) => w.stop({ graceMs })))]);
    const inFlight = results.reduce((n, r) => n + r.inFlight, 0);
    const handedBack = results.reduce((n, r) => n + r.handedBack, 0);
    log(`local host: workers stopped (${inFlight} in flight at the stop; handed back ${handedBack} message(s))`);
    await services.queue.close();
    log("local host: stopped");
  };

  return {
    url: `http://127.0.0.1:${port}/api/v1`,
    port,
    services,
    stop(stopOptions = {}) {
      stopping ??= stop(stopOptions.graceMs ?? 5000);
      return stopping;
    },
  };
}
