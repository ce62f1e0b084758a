import { connect } from "node:net";

/**
 * A byte-exact HTTP/1.1 client for hostile-input tests. `fetch` normalises what these tests need to
 * send as it is: it resolves `%2E%2E` segments, refuses control characters and non-Latin-1 header
 * values, and always sends well-formed framing. This one writes the request line, headers and body as
 * given (header values as UTF-8 bytes) on a fresh connection, and reads the answer until the server
 * closes it.
 */
export interface RawRequest {
  method: string;
  /** The request target exactly as written on the wire, e.g. `/api/v1/campaigns/%ZZ`. */
  target: string;
  headers?: Array<[string, string]>;
  body?: Buffer | string;
  /** Send the body with `Transfer-Encoding: chunked` (64 KiB chunks) instead of a Content-Length. */
  chunked?: boolean;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  text: string;
  /** Set when the connection failed before a whole answer arrived. */
  transportError?: string;
}

function parseResponse(data: Buffer): RawResponse | undefined {
  const end = data.indexOf("\r\n\r\n");
  if (end < 0) return undefined;
  const head = data.subarray(0, end).toString("latin1").split("\r\n");
  const statusLine = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? "");
  if (!statusLine) return undefined;
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = data.subarray(end + 4);
  if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
    const parts: Buffer[] = [];
    let at = 0;
    for (;;) {
      const lineEnd = body.indexOf("\r\n", at);
      if (lineEnd < 0) break;
      const size = parseInt(body.subarray(at, lineEnd).toString("latin1"), 16);
      if (!Number.isFinite(size) || size === 0) break;
      parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  } else if (headers["content-length"] !== undefined) {
    body = body.subarray(0, Number(headers["content-length"]));
  }
  return { status: Number(statusLine[1]), headers, text: body.toString("utf8") };
}

export function rawRequest(port: number, request: RawRequest, timeoutMs = 30_000): Promise<RawResponse> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (transportError?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const parsed = parseResponse(Buffer.concat(chunks));
      resolve(
        parsed ?? {
          status: 0,
          headers: {},
          text: Buffer.concat(chunks).toString("utf8"),
          transportError: transportError ?? "connection closed without an HTTP answer",
        },
      );
    };
    const socket = connect({ port, host: "127.0.0.1" });
    const timer = setTimeout(() => finish(`no answer within ${timeoutMs} ms`), timeoutMs);
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("end", () => finish());
    socket.on("close", () => finish());
    // A server that answers early (413) and closes may reset the connection while the body is still
    // being written; whatever answer arrived before counts.
    socket.on("error", (error) => finish(error.message));
    socket.on("connect", () => {
      const body = request.body === undefined ? undefined : Buffer.isBuffer(request.body) ? request.body : Buffer.from(request.body, "utf8");
      const lines = [`${request.method} ${request.target} HTTP/1.1`, `Host: 127.0.0.1:${port}`, "Connection: close"];
      for (const [name, value] of request.headers ?? []) lines.push(`${name}: ${value}`);
      if (request.chunked) lines.push("Transfer-Encoding: chunked");
      else if (body !== undefined) lines.push(`Content-Length: ${body.length}`);
      else if (request.method === "POST" || request.method === "PUT" || request.method === "PATCH") lines.push("Content-Length: 0");
      socket.write(Buffer.from(lines.join("\r\n") + "\r\n\r\n", "utf8"));
      if (request.chunked) {
        const data = body ?? Buffer.alloc(0);
        for (let at = 0; at < data.length; at += 65_536) {
          const piece = data.subarray(at, at + 65_536);
          socket.write(`${piece.length.toString(16)}\r\n`);
          socket.write(piece);
          socket.write("\r\n");
        }
        socket.write("0\r\n\r\n");
      } else if (body !== undefined && body.length) socket.write(body);
    });
  });
}

/** A shell command that sends the same request (for failure messages); bodies over 2 KB are elided. */
export function curlFor(baseUrl: string, request: RawRequest): string {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const parts = ["curl -sS -i --path-as-is -X", request.method];
  for (const [name, value] of request.headers ?? []) parts.push("-H", quote(`${name}: ${value}`));
  if (request.body !== undefined) {
    const text = Buffer.isBuffer(request.body) ? request.body.toString("utf8") : request.body;
    if (!(request.headers ?? []).some(([name]) => name.toLowerCase() === "content-type")) parts.push("-H", quote("Content-Type: application/json"));
    parts.push("--data-binary", text.length > 2048 ? `@body.json  # ${text.length} chars, see the body description` : quote(text));
  }
  if (request.chunked) parts.push("-H", quote("Transfer-Encoding: chunked"));
  parts.push(quote(`${baseUrl}${request.target}`));
  return parts.join(" ");
}
