import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAzurite, type AzuriteProcess } from "../../scripts/azurite.js";
import { UserStore } from "../../shared/auth.js";
import { AZURITE_ACCOUNT, loadConfig, settingsSchema, type AppConfig } from "../../shared/config.js";
import { createStorageClients, type StorageClients } from "../../shared/storage/clients.js";
import { createSasSigner, USER_DELEGATION_SAS_VERSION } from "../../shared/storage/sas.js";
import {
  makeTestCertificate,
  startManagedIdentityEndpoint,
  TEST_OBJECT_ID,
  TEST_TENANT_ID,
  tlsRequest,
  TestTokenCredential,
  type ManagedIdentityEndpoint,
  type TestCertificate,
} from "../support/identity.js";
import { jpegWithExif, png } from "../support/images.js";
import { call, waitFor } from "../support/stack.js";

/**
 * The Azure path, without Azure: no account key anywhere. Azurite runs over HTTPS with `--oauth basic`
 * (its own, not the run's shared one), the app gets the settings it has in Azure (STORAGE_ACCOUNT_NAME
 * with service endpoints, SAS_SIGNING=userDelegation) and gets its tokens from a managed-identity
 * endpoint, as a Function App does. The local host runs in its own process so its environment is only
 * that. The test's own clients use a TokenCredential. Every SAS is signed with a user delegation key,
 * and Azurite checks those signatures.
 */

const ADMIN = { key: "mi-admin-key", secret: "mi-admin-secret" };
const admin = { "Authentication-Key": ADMIN.key, "Authentication-Secret": ADMIN.secret };
const READ_SAS_MINUTES = 15;
const DROPBOX_SAS_DAYS = 7;

let dir: string;
let certificate: TestCertificate;
let azurite: AzuriteProcess;
let identity: ManagedIdentityEndpoint;
let host: ChildProcess | undefined;
let stack: { url: string };
let config: AppConfig;
let clients: StorageClients;
const credential = new TestTokenCredential();
const hostLog: string[] = [];

/** The app settings the Function App has in Azure, pointed at this Azurite. */
function azureSettings(): Record<string, string> {
  const endpoint = (port: number) => `https://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  return {
    STORAGE_ACCOUNT_NAME: AZURITE_ACCOUNT,
    STORAGE_BLOB_ENDPOINT: endpoint(azurite.blobPort),
    STORAGE_QUEUE_ENDPOINT: endpoint(azurite.queuePort),
    STORAGE_TABLE_ENDPOINT: endpoint(azurite.tablePort),
    SAS_SIGNING: "userDelegation",
    // Storage queues on the same Azurite stand in for Service Bus; the transport has its own test.
    QUEUE_TRANSPORT: "storage",
    RESOURCE_PREFIX: `mi${randomBytes(3).toString("hex")}`,
    READ_SAS_MINUTES: String(READ_SAS_MINUTES),
    DROPBOX_SAS_DAYS: String(DROPBOX_SAS_DAYS),
    LOCAL_ADMIN_KEY: ADMIN.key,
    LOCAL_ADMIN_SECRET: ADMIN.secret,
    PORT: "0",
  };
}

/** Starts test/support/identityHost.ts with exactly the Azure settings, and resolves with its API URL. */
async function startHost(settings: Record<string, string>): Promise<string> {
  // None of the developer's or the run's app settings or Azure credentials leaks in (a connection string
  // would win over the identity; AZURE_CLIENT_ID and friends would pick another credential).
  const settingKeys = new Set(Object.keys(settingsSchema.shape));
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!settingKeys.has(key) && !/^(TEST_STORAGE|AZURE_|IDENTITY_|MSI_|IMDS_)/.test(key)) env[key] = value;
  }
  Object.assign(env, settings, identity.env, { NODE_EXTRA_CA_CERTS: certificate.certPath });
  const child = spawn(process.execPath, ["--import", "tsx", "test/support/identityHost.ts"], { env, stdio: ["pipe", "pipe", "pipe"] });
  host = child;
  createInterface({ input: child.stderr }).on("line", (line) => {
    hostLog.push(line);
    if (process.env.TEST_LOG) console.log(`host: ${line}`);
  });
  const lines = createInterface({ input: child.stdout });
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the host did not start within 30 s:\n${hostLog.join("\n")}`)), 30_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the host exited with ${code}:\n${hostLog.join("\n")}`));
    });
    lines.once("line", (line) => {
      clearTimeout(timer);
      resolve((JSON.parse(line) as { url: string }).url);
    });
  });
}

function stopHost(): Promise<void> {
  const child = host;
  if (!child || child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/** A SAS URL's query as an object (one value per name). */
const sasOf = (url: string) => Object.fromEntries(new URL(url).searchParams);

/** What every SAS the app hands out must be: signed with a user delegation key of the app's identity, https only. */
function expectUserDelegationSas(url: string, expected: { sr: string; sp: string; validFor: number }) {
  const sas = sasOf(url);
  expect(sas, url).toMatchObject({
    skoid: TEST_OBJECT_ID,
    sktid: TEST_TENANT_ID,
    sks: "b",
    sr: expected.sr,
    sp: expected.sp,
    spr: "https",
    sv: USER_DELEGATION_SAS_VERSION,
  });
  for (const field of ["sig", "skt", "ske", "skv", "st", "se"]) expect(sas[field], `${field} in ${url}`).toBeTruthy();
  // Expires when documented: a 7-day link a minute or two early, since its key lives at most 7 days,
  // and the signer caps `se` at the key's expiry so the link never outlives its key.
  const lifetime = Date.parse(sas.se!) - Date.now();
  expect(lifetime).toBeGreaterThan(expected.validFor - 3 * 60_000);
  expect(lifetime).toBeLessThanOrEqual(expected.validFor);
  expect(Date.parse(sas.ske!)).toBeGreaterThanOrEqual(Date.parse(sas.se!));
  expect(new URL(url).origin).toBe(`https://127.0.0.1:${azurite.blobPort}`);
}

/** Read-only: it reads, and Azurite refuses a write or a delete with it. */
async function expectReadOnly(url: string, expected: Buffer | string) {
  const read = await tlsRequest(url, { ca: certificate.pem });
  expect(read.status).toBe(200);
  expect(read.body.equals(Buffer.from(expected))).toBe(true);
  const write = await tlsRequest(url, { ca: certificate.pem, method: "PUT", headers: { "x-ms-blob-type": "BlockBlob" }, body: "overwritten" });
  expect(write.status).toBe(403);
  expect(write.body.toString()).toContain("AuthorizationPermissionMismatch");
  const remove = await tlsRequest(url, { ca: certificate.pem, method: "DELETE" });
  expect(remove.status).toBe(403);
  expect(remove.body.toString()).toContain("AuthorizationPermissionMismatch");
  expect((await tlsRequest(url, { ca: certificate.pem })).body.equals(Buffer.from(expected))).toBe(true);
}

/** Azurite recomputes a user delegation SAS's signature from the key: a forged one is refused, so the 200s mean the app signed right. */
async function expectForgeryRefused(url: string) {
  const forged = new URL(url);
  forged.searchParams.set("sig", Buffer.alloc(32, 7).toString("base64"));
  const read = await tlsRequest(forged.toString(), { ca: certificate.pem });
  expect(read.status).toBe(403);
  expect(read.body.toString()).toContain("AuthorizationFailure");
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "managed-identity-"));
  certificate = await makeTestCertificate(dir);
  [azurite, identity] = await Promise.all([
    startAzurite({ blobPort: 0, inMemory: true, https: { cert: certificate.certPath, key: certificate.keyPath }, oauth: "basic" }),
    startManagedIdentityEndpoint(),
  ]);
  const settings = azureSettings();
  config = loadConfig(settings);
  clients = createStorageClients(config, credential, { ca: certificate.pem });
  stack = { url: await startHost(settings) };
  // The local host provisioned the tables; in Azure `npm run create-admin` writes the first admin.
  await new UserStore(clients.table("users")).putUser(ADMIN.key, ADMIN.secret, "image-admin", "mi-admin@test.example");
});

afterAll(async () => {
  await stopHost();
  await azurite?.stop();
  await identity?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the managed-identity path on Azurite with OAuth", () => {
  const car = png(120, 80, 5);
  const photo = jpegWithExif(64, 48);
  let imageIds: number[] = [];

  it("runs the image-set flow with tokens from the identity endpoint and user-delegation SAS", async () => {
    expect(config.sasSigning).toBe("userDelegation");
    const created = await call(stack, "POST", "/image_sets", admin, { title: "mi-imageset-1" });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const setId = created.body.imageset_id as number;
    const dropbox = created.body.dropbox_url as string;
    expect(new URL(dropbox).pathname).toBe(`/${AZURITE_ACCOUNT}/dropbox-mi-imageset-1`);
    expectUserDelegationSas(dropbox, { sr: "c", sp: "rwdl", validFor: DROPBOX_SAS_DAYS * 24 * 3600_000 });

    // Any HTTP client uploads with it: a plain PUT, no SDK, no credentials but the SAS.
    for (const [name, bytes] of [
      ["car.png", await car],
      ["sub/photo.jpg", await photo],
    ] as const) {
      const url = new URL(dropbox);
      url.pathname += `/${name}`;
      const put = await tlsRequest(url.toString(), { ca: certificate.pem, method: "PUT", headers: { "x-ms-blob-type": "BlockBlob" }, body: bytes });
      expect(put.status, put.body.toString()).toBe(201);
    }

    // The copy job: storage queue message, dropbox listing, syncCopyFromURL with a user-delegation source SAS.
    expect((await call(stack, "PUT", `/image_sets/${setId}`, admin, { new_status: "finished" })).body).toBe("ok");
    const finished = await waitFor("set finished", async () => {
      const r = await call(stack, "GET", `/image_sets/${setId}`, admin);
      if (r.body.status === "failed") throw new Error(`copy failed: ${r.body.failure_reason}\n${hostLog.join("\n")}`);
      return r.body.status === "finished" ? r.body : undefined;
    });
    expect(finished).toMatchObject({ image_count: 2, rejected_files: [] });
    expect(await clients.blobService.getContainerClient("dropbox-mi-imageset-1").exists()).toBe(false);

    const listed = await call(stack, "GET", `/image_sets/${setId}/images`, admin);
    const byPath = Object.fromEntries((listed.body.images as Array<{ blobstorage_path: string; image_id: number }>).map((i) => [i.blobstorage_path, i]));
    imageIds = Object.values(byPath).map((i) => i.image_id);
    const image = byPath["uploads/mi-imageset-1/sub/photo.jpg"]!;

    const redirect = await call(stack, "GET", `/images/${image.image_id}`, admin);
    expect(redirect.status).toBe(303);
    const location = redirect.headers.get("location")!;
    expect(new URL(location).pathname).toBe(`/${AZURITE_ACCOUNT}/${config.imageContainer}/uploads/mi-imageset-1/sub/photo.jpg`);
    expectUserDelegationSas(location, { sr: "b", sp: "r", validFor: READ_SAS_MINUTES * 60_000 });
    await expectReadOnly(location, await photo);
    await expectForgeryRefused(location);

    // The app asked its identity endpoint for storage tokens, with the endpoint's secret header.
    expect(identity.requests.length).toBeGreaterThan(0);
    expect(identity.requests.every((r) => r.resource === "https://storage.azure.com" && r.apiVersion === "2019-08-01")).toBe(true);
    expect(identity.requests.every((r) => r.identityHeader === identity.env.IDENTITY_HEADER)).toBe(true);
  });

  it("refuses a user-delegation SAS once it has expired", async () => {
    // The app's signer, with the test's credential, and a lifetime short enough to outlive here. The
    // first link fetches the delegation key, so the short one is signed and used at once even on a busy machine.
    const signer = createSasSigner(config, clients.blobService);
    const blobPath = "uploads/mi-imageset-1/car.png";
    const lasting = await signer.blobUrl(config.imageContainer, blobPath, "r", new Date(Date.now() + 60_000));
    const url = await signer.blobUrl(config.imageContainer, blobPath, "r", new Date(Date.now() + 4_000));
    expect(sasOf(url)).toMatchObject({ skoid: TEST_OBJECT_ID, sktid: TEST_TENANT_ID, sp: "r" });
    expect((await tlsRequest(url, { ca: certificate.pem })).status).toBe(200);
    // `se` has whole seconds; Azurite compares it with its clock.
    const expiry = Date.parse(sasOf(url).se!);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiry - Date.now()) + 1_100));
    const expired = await tlsRequest(url, { ca: certificate.pem });
    expect(expired.status).toBe(403);
    expect(expired.body.toString()).toContain("AuthorizationFailure");
    // Same key, same blob, a later expiry: still good, so it was the expiry that was refused.
    expect((await tlsRequest(lasting, { ca: certificate.pem })).status).toBe(200);
    expect(credential.scopes).toContain("https://storage.azure.com/.default");
  });

  it("hands out an export's download_url as a read-only user-delegation SAS", async () => {
    expect(imageIds).toHaveLength(2);
    const campaign = await call(stack, "POST", "/campaigns", admin, { title: "mi-campaign", labeler_email: "mi-partner@example.com" });
    expect(campaign.status, JSON.stringify(campaign.body)).toBe(201);
    const id = campaign.body.campaign_id as number;
    expect(
      (
        await call(
          stack,
          "POST",
          `/campaigns/${id}/images`,
          admin,
          imageIds.map((i) => ({ id: i })),
        )
      ).body,
    ).toBe("ok");
    const started = await call(stack, "POST", `/campaigns/${id}/exports`, admin, { format: "csv", label_status: "all" });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const done = await waitFor("export", async () => {
      const r = (await call(stack, "GET", `/exports/${started.body.export_id}`, admin)).body;
      return r.status === "succeeded" || r.status === "failed" ? r : undefined;
    });
    expect(done.status, done.error).toBe("succeeded");
    const url = done.download_url as string;
    expectUserDelegationSas(url, { sr: "b", sp: "r", validFor: READ_SAS_MINUTES * 60_000 });
    const csv = (await tlsRequest(url, { ca: certificate.pem })).body;
    expect(csv.toString()).toContain("uploads/mi-imageset-1/car.png");
    await expectReadOnly(url, csv);
  });
});
