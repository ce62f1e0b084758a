import { startLocalHost, type LocalHost, type LocalHostOptions } from "../../scripts/localHost.js";
import type { AppConfig } from "../../shared/config.js";
import { testConfig } from "./env.js";

export interface TestStack {
  host: LocalHost;
  config: AppConfig;
  url: string;
  admin: Record<string, string>;
  logs: string[];
  stop(): Promise<void>;
}

/** The local host on the test run's Azurite, with its own prefix, the admin user, and quick retries. */
export async function startTestStack(options: { settings?: Record<string, string> } & Partial<LocalHostOptions> = {}): Promise<TestStack> {
  const config = options.config ?? testConfig(options.settings);
  const logs: string[] = [];
  const host = await startLocalHost({
    retryDelaySeconds: () => 0,
    visibilityTimeoutSeconds: 30,
    ...options,
    config,
    log: (line) => {
      logs.push(line);
      if (process.env.TEST_LOG) console.log(line);
    },
  });
  const { LOCAL_ADMIN_KEY, LOCAL_ADMIN_SECRET } = config.settings;
  await host.services.users.putUser(LOCAL_ADMIN_KEY, LOCAL_ADMIN_SECRET, "image-admin", "admin@test.example");
  return {
    host,
    config,
    url: host.url,
    admin: { "Authentication-Key": LOCAL_ADMIN_KEY, "Authentication-Secret": LOCAL_ADMIN_SECRET },
    logs,
    stop: () => host.stop(),
  };
}

/** JSON request helper: returns status and parsed body (or text). */
export async function call(
  stack: Pick<TestStack, "url">,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(`${stack.url}${path}`, {
    method,
    headers: { ...headers, ...(body !== undefined ? { "Content-Type": "application/json" } : {}) },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    redirect: "manual",
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 30_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Uploads through a dropbox SAS URL the way any HTTP client can. */
export async function uploadToDropbox(dropboxUrl: string, name: string, bytes: Buffer | string): Promise<void> {
  const url = new URL(dropboxUrl);
  url.pathname = `${url.pathname}/${name.split("/").map(encodeURIComponent).join("/")}`;
  const response = await fetch(url, { method: "PUT", headers: { "x-ms-blob-type": "BlockBlob" }, body: bytes as BodyInit });
  if (response.status !== 201) throw new Error(`upload of ${name} answered ${response.status}: ${await response.text()}`);
}
