import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "../support/stack.js";

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ workers: false });
});
afterAll(async () => stack?.stop());

interface RawAnswer {
  status: number;
  head: string;
  body: string;
}

/**
 * Sends bytes as they are over TCP (fetch would refuse or normalise most of these requests) and reads
 * the answer until the server closes the connection (every request here asks it to, or is refused).
 */
function raw(port: number, request: string | Buffer): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(new Error("no answer within 5 s")), 5000);
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("utf8");
      const split = text.indexOf("\r\n\r\n");
      const head = split < 0 ? text : text.slice(0, split);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), head, body: split < 0 ? "" : text.slice(split + 4) });
    });
    // Not end(): Node's server drops a request whose client half-closes before the answer is ready.
    socket.write(typeof request === "string" ? Buffer.from(request, "latin1") : request);
  });
}

/** A GET with `Connection: close`, so the answer ends with the connection. */
const get = (target: string, headers: Record<string, string> = {}) =>
  `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("")}Connection: close\r\n\r\n`;

function expectJsonError(answer: RawAnswer, status: number): { status: number; detail: string } {
  expect(answer.status, answer.head).toBe(status);
  expect(answer.head).toMatch(/\r\ncontent-type: application\/json/i);
  const body = JSON.parse(answer.body) as { status: number; detail: string };
  expect(body.status).toBe(status);
  expect(body.detail).toBeTypeOf("string");
  return body;
}

describe("malformed input to the local host", () => {
  it("answers 400 JSON naming the problem for paths with malformed percent-escapes", async () => {
    for (const target of ["/api/v1/campaigns/%ZZ", "/api/v1/campaigns/%", "/api/v1/campaigns/%E0%A4%A", "/api/v1/images/%C0%AF", "/api/v1/%ZZ/x"]) {
      for (const headers of [{}, stack.admin]) {
        const body = expectJsonError(await raw(stack.host.port, get(target, headers)), 400);
        expect(body.detail, target).toMatch(/malformed percent-escape/);
        expect(body.detail).toContain(target);
      }
    }
    // Through an ordinary client too (fetch passes these paths through unchanged).
    const viaFetch = await fetch(`${stack.url}/campaigns/%ZZ`, { headers: stack.admin });
    expect(viaFetch.status).toBe(400);
    expect(await viaFetch.json()).toMatchObject({ status: 400, detail: expect.stringContaining("%ZZ") });
  });

  it("answers 400 JSON for a request target that is not a URL", async () => {
    const body = expectJsonError(await raw(stack.host.port, get("http://[/api/v1/images")), 400);
    expect(body.detail).toMatch(/not a valid URL/);
  });

  it("answers requests Node's HTTP parser refuses with a JSON body and closes the connection", async () => {
    const cases: Array<[string, string, number]> = [
      ["control byte in a header value", `GET /api/v1/info/version HTTP/1.1\r\nHost: x\r\nX-Odd: a\x01b\r\n\r\n`, 400],
      ["space in a header name", `GET /api/v1/info/version HTTP/1.1\r\nHost: x\r\nBad Name: a\r\n\r\n`, 400],
      ["malformed request line", `GARBAGE\r\n\r\n`, 400],
      ["invalid chunk size", `POST /api/v1/image_sets HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n`, 400],
      ["headers too large", `GET /api/v1/info/version HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`, 431],
    ];
    for (const [what, request, status] of cases) {
      const answer = await raw(stack.host.port, request);
      const body = expectJsonError(answer, status);
      expect(answer.head, what).toMatch(/\r\nconnection: close/i);
      expect(body.detail, what).toMatch(/^malformed HTTP request: /);
    }
  });

  it("answers no odd path, query or header with a 5xx", async () => {
    const targets = [
      "/api/v1/image_sets/%00",
      "/api/v1/images/99999999999999999999",
      "/api/v1/campaigns/-1",
      "/api/v1/campaigns/1/images/%F0%9F%98%80/history",
      "/api/v1/exports/%2e%2e%2f",
      "/api/v1/../../etc/passwd",
      "//api/v1/images",
      "/api/v1/images?page=%ZZ&per_page=1e309",
      "/api/v1/images?%=%&&=",
      `/api/v1/images/${"9".repeat(6000)}`,
      "*",
    ];
    for (const target of targets) {
      const answer = await raw(stack.host.port, get(target, stack.admin));
      expect(answer.status, target).toBeGreaterThanOrEqual(200);
      expect(answer.status, target).toBeLessThan(500);
      expect(() => JSON.parse(answer.body), target).not.toThrow();
    }
    for (const host of ["[zz", "a b", "x:99999", "%41", ""]) {
      const answer = await raw(stack.host.port, `GET /api/v1/info/version HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      expect(answer.status, host).toBeGreaterThanOrEqual(200);
      expect(answer.status, host).toBeLessThan(500);
    }
    const answer = await raw(stack.host.port, get("/api/v1/info/version", { "X-Latin1": "\xff\xfe", ...stack.admin }));
    expect(answer.status).toBe(200);
    expect(stack.logs.filter((line) => line.startsWith("local host:"))).toEqual([]);
  });
});
