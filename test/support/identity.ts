import type { AccessToken, GetTokenOptions, TokenCredential } from "@azure/identity";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server } from "node:http";
import { request } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";

/**
 * The pieces the managed-identity path needs in a test: a TLS certificate for Azurite (bearer tokens
 * travel over HTTPS only), Entra-shaped tokens that Azurite's `--oauth basic` accepts, a TokenCredential
 * that hands them out, and a stand-in for the managed-identity endpoint that Azure gives a Function App.
 */

/** The tenant and object ids the tokens carry; a user delegation SAS names them as `sktid` and `skoid`. */
export const TEST_TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47";
export const TEST_OBJECT_ID = "5f9d8b1e-2c4a-4e6b-9a1d-3c7e8f0b2a64";

export interface TestCertificate {
  certPath: string;
  keyPath: string;
  /** The certificate as PEM: the one CA a client needs to trust. */
  pem: string;
}

/**
 * A self-signed certificate for 127.0.0.1 and localhost, valid for a day, made with Debian's openssl
 * (on every machine of this kind). An EC key: generated in milliseconds.
 */
export async function makeTestCertificate(dir: string): Promise<TestCertificate> {
  const certPath = join(dir, "azurite-cert.pem");
  const keyPath = join(dir, "azurite-key.pem");
  const args = [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    keyPath,
    "-out",
    certPath,
    "-days",
    "1",
    "-subj",
    "/CN=127.0.0.1",
    "-addext",
    "subjectAltName=IP:127.0.0.1,DNS:localhost",
  ];
  try {
    await promisify(execFile)("openssl", args);
  } catch (error) {
    throw new Error(`the managed-identity test makes its TLS certificate with openssl (apt-get install openssl): ${(error as Error).message}`);
  }
  return { certPath, keyPath, pem: await readFile(certPath, "utf8") };
}

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/**
 * An Entra ID access token as Azurite's basic OAuth reads it: issuer under `https://sts.windows.net/`,
 * audience `https://storage.azure.com`, `iat`/`nbf`/`exp` around now, `oid`/`tid` for user delegation
 * keys. Azurite does not check the signature, so it is a placeholder.
 */
export function fakeEntraToken(lifetimeSeconds = 3600): { token: string; expiresOn: number } {
  const now = Math.floor(Date.now() / 1000);
  const exp = now + lifetimeSeconds;
  const claims = {
    aud: "https://storage.azure.com",
    iss: `https://sts.windows.net/${TEST_TENANT_ID}/`,
    iat: now - 60,
    nbf: now - 60,
    exp,
    oid: TEST_OBJECT_ID,
    tid: TEST_TENANT_ID,
    sub: TEST_OBJECT_ID,
  };
  const token = `${base64url({ alg: "RS256", typ: "JWT" })}.${base64url(claims)}.${Buffer.from("not-signed").toString("base64url")}`;
  return { token, expiresOn: exp };
}

/** A TokenCredential that hands out fakeEntraToken()s and records the scopes it was asked for. */
export class TestTokenCredential implements TokenCredential {
  readonly scopes: string[] = [];
  async getToken(scopes: string | string[], _options?: GetTokenOptions): Promise<AccessToken> {
    this.scopes.push(...(Array.isArray(scopes) ? scopes : [scopes]));
    const { token, expiresOn } = fakeEntraToken();
    return { token, expiresOnTimestamp: expiresOn * 1000 };
  }
}

export interface TokenRequest {
  resource: string | null;
  apiVersion: string | null;
  identityHeader: string | undefined;
}

export interface ManagedIdentityEndpoint {
  /** What a Function App's environment holds: `IDENTITY_ENDPOINT` and `IDENTITY_HEADER`. */
  env: { IDENTITY_ENDPOINT: string; IDENTITY_HEADER: string };
  requests: TokenRequest[];
  close(): Promise<void>;
}

/**
 * The managed-identity endpoint of App Service and Flex Consumption (`GET $IDENTITY_ENDPOINT?resource=&
 * api-version=2019-08-01` with the `X-IDENTITY-HEADER` secret), answering with fakeEntraToken()s. With its
 * env, the app's own DefaultAzureCredential gets tokens exactly as it does in Azure.
 */
export async function startManagedIdentityEndpoint(): Promise<ManagedIdentityEndpoint> {
  const secret = randomUUID();
  const requests: TokenRequest[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const identityHeader = req.headers["x-identity-header"] as string | undefined;
    requests.push({ resource: url.searchParams.get("resource"), apiVersion: url.searchParams.get("api-version"), identityHeader });
    if (identityHeader !== secret) {
      res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ error: "invalid identity header" }));
      return;
    }
    const { token, expiresOn } = fakeEntraToken();
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        access_token: token,
        expires_on: String(expiresOn),
        resource: url.searchParams.get("resource"),
        token_type: "Bearer",
        client_id: randomUUID(),
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    env: { IDENTITY_ENDPOINT: `http://127.0.0.1:${port}/msi/token`, IDENTITY_HEADER: secret },
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface TlsResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * A plain HTTPS request, as any HTTP client sends it to a SAS URL, trusting `ca` on top of the system's
 * roots (Node 20's fetch takes no CA without undici's Agent, which is not a dependency here).
 */
export function tlsRequest(
  url: string,
  options: { ca: string; method?: string; headers?: Record<string, string>; body?: Buffer | string },
): Promise<TlsResponse> {
  const body = options.body ?? "";
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: options.method ?? "GET", ca: options.ca, headers: { ...options.headers, "content-length": String(Buffer.byteLength(body)) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}
