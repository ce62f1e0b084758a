/**
 * One webhook attempt over HTTP: a POST with a 10 s budget for everything (connect, TLS, answer), no redirect
 * followed, at most 1 KiB of the answer kept. Unless private targets are allowed, the target's addresses are
 * checked where the connection is made: a literal host before connecting, a name in the `lookup` the socket uses,
 * so the address that is checked is the address connected to (a name that resolves to a public address when the
 * subscription is made and to an internal one later, DNS rebinding, is refused at that later attempt).
 */
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import { addressProblem, literalAddress } from "../domain/webhooks.js";
import { errorMessage } from "../errors.js";

/** How long an attempt may take in all. */
export const ATTEMPT_TIMEOUT_MS = 10_000;
/** Bytes of the receiver's answer kept with the attempt. */
export const RESPONSE_BYTES_KEPT = 1024;

/** What one attempt came to: the answer's status (null when there was none) or what went wrong, how long it took, the start of the answer. */
export interface AttemptResult {
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  responseBody: string;
}

/** A target refused because of where it points. */
export class RefusedTargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RefusedTargetError";
  }
}

/** A `lookup` for node:net that resolves like the default one and refuses names with a non-public address among them. */
export function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { family: options.family ?? 0, hints: options.hints, all: true }, (error, addresses: LookupAddress[]) => {
      const done = callback;
      if (error) return done(error, "", 0);
      // All or nothing: one internal address among public ones is a name pointing inside, whichever would be tried.
      const problem = allowPrivate ? null : addresses.map((a) => addressProblem(a.address)).find(Boolean);
      if (problem) return done(new RefusedTargetError(`refused: ${hostname} resolves to a non-public address, ${problem}`), "", 0);
      if (!addresses.length) return done(Object.assign(new Error(`${hostname} has no address`), { code: "ENOTFOUND" }), "", 0);
      if (options.all) return done(null, addresses);
      return done(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

/**
 * POSTs `body` to `url` with `headers`; never throws. A 3xx is an answer like any other (the caller decides it is a
 * failure); its Location is not followed.
 */
export async function postWebhook(
  url: string,
  headers: Record<string, string>,
  body: string,
  options: { allowPrivate: boolean; timeoutMs?: number; userAgent?: string },
): Promise<AttemptResult> {
  const started = Date.now();
  const result = (partial: Partial<AttemptResult>): AttemptResult => ({
    statusCode: null,
    error: null,
    responseBody: "",
    ...partial,
    durationMs: Date.now() - started,
  });
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return result({ error: "refused: the URL does not parse" });
  }
  const secure = target.protocol === "https:";
  if (!secure && !(options.allowPrivate && target.protocol === "http:")) return result({ error: `refused: ${target.protocol}// targets are not allowed` });
  const literal = literalAddress(target.hostname);
  if (literal && !options.allowPrivate) {
    const problem = addressProblem(literal);
    if (problem) return result({ error: `refused: the target is a non-public address, ${problem}` });
  }
  const payload = Buffer.from(body, "utf8");
  const timeoutMs = options.timeoutMs ?? ATTEMPT_TIMEOUT_MS;
  return new Promise<AttemptResult>((resolve) => {
    let settled = false;
    // Called from the request's callbacks and the timer, never before both exist.
    const finish = (partial: Partial<AttemptResult>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.destroy();
      resolve(result(partial));
    };
    const request = (secure ? https : http).request(
      {
        protocol: target.protocol,
        hostname: literal ?? target.hostname,
        port: target.port || undefined,
        path: `${target.pathname}${target.search}`,
        method: "POST",
        headers: {
          ...headers,
          "content-type": "application/cloudevents+json; charset=utf-8",
          "content-length": String(payload.length),
          "user-agent": options.userAgent ?? "label-pipeline-webhooks",
        },
        // A fresh connection each time, resolved through the guard (a pooled socket would skip it).
        agent: false,
        lookup: guardedLookup(options.allowPrivate),
        // TLS checks the certificate against the name in the URL, not the address connected to.
        servername: secure && !literal ? target.hostname : undefined,
      },
      (response) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        const answer = () => {
          // Streaming decode: a character cut at the 1 KiB mark is dropped rather than turned into U+FFFD.
          const text = new TextDecoder().decode(Buffer.concat(chunks).subarray(0, RESPONSE_BYTES_KEPT), { stream: true });
          finish({ statusCode: response.statusCode ?? null, responseBody: text });
        };
        response.on("data", (chunk: Buffer) => {
          if (kept < RESPONSE_BYTES_KEPT) chunks.push(chunk);
          kept += chunk.length;
          // Enough kept: the rest of a large answer is not waited for.
          if (kept >= RESPONSE_BYTES_KEPT) answer();
        });
        response.on("end", answer);
        response.on("error", answer);
        response.on("close", answer);
      },
    );
    const timer = setTimeout(() => finish({ error: `no answer within ${timeoutMs / 1000} s` }), timeoutMs);
    request.on("error", (error) => finish({ error: errorMessage(error) }));
    request.end(payload);
  });
}
