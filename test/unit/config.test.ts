import { describe, expect, it } from "vitest";
import { loadConfig, ConfigError } from "../../shared/config.js";
import { storageEndpoints } from "../../shared/storage/clients.js";

describe("loadConfig", () => {
  it("defaults to Azurite with account-key SAS and storage queues", () => {
    const config = loadConfig({});
    expect(config.settings.STORAGE_CONNECTION_STRING).toContain("devstoreaccount1");
    expect(config.sasSigning).toBe("accountKey");
    expect(config.settings.QUEUE_TRANSPORT).toBe("storage");
    expect(config.settings.DROPBOX_SAS_DAYS).toBe(7);
  });
  it("prefixes every resource name", () => {
    const config = loadConfig({ RESOURCE_PREFIX: "t1" });
    expect(config.table("campaignData")).toBe("t1campaignData");
    expect(config.queue("imageset-copy")).toBe("t1imageset-copy");
    expect(config.imageContainer).toBe("t1images");
  });
  it("uses user delegation SAS when only an account name is set", () => {
    expect(loadConfig({ STORAGE_ACCOUNT_NAME: "acct" }).sasSigning).toBe("userDelegation");
  });
  it("derives the identity endpoints from STORAGE_ACCOUNT_NAME unless they are set", () => {
    expect(storageEndpoints(loadConfig({ STORAGE_ACCOUNT_NAME: "acct" }))).toEqual({
      blob: "https://acct.blob.core.windows.net",
      queue: "https://acct.queue.core.windows.net",
      table: "https://acct.table.core.windows.net",
    });
    const azurite = loadConfig({
      STORAGE_ACCOUNT_NAME: "devstoreaccount1",
      STORAGE_BLOB_ENDPOINT: "https://127.0.0.1:10000/devstoreaccount1/",
      STORAGE_TABLE_ENDPOINT: " https://127.0.0.1:10002/devstoreaccount1 ",
    });
    expect(azurite.sasSigning).toBe("userDelegation");
    expect(storageEndpoints(azurite)).toEqual({
      blob: "https://127.0.0.1:10000/devstoreaccount1",
      queue: "https://devstoreaccount1.queue.core.windows.net",
      table: "https://127.0.0.1:10002/devstoreaccount1",
    });
  });
  it("takes service endpoints only as https URLs, and only with STORAGE_ACCOUNT_NAME", () => {
    for (const bad of ["http://127.0.0.1:10000/devstoreaccount1", "127.0.0.1:10000", "https://acct.blob.core.windows.net/?sv=1"]) {
      expect(() => loadConfig({ STORAGE_ACCOUNT_NAME: "acct", STORAGE_BLOB_ENDPOINT: bad }), bad).toThrow(/STORAGE_BLOB_ENDPOINT must be an https/);
    }
    expect(() => loadConfig({ STORAGE_QUEUE_ENDPOINT: "https://127.0.0.1:10001/devstoreaccount1" })).toThrow(/go with STORAGE_ACCOUNT_NAME/);
    const connectionString = loadConfig({}).settings.STORAGE_CONNECTION_STRING!;
    expect(() =>
      loadConfig({ STORAGE_CONNECTION_STRING: connectionString, STORAGE_ACCOUNT_NAME: "acct", STORAGE_TABLE_ENDPOINT: "https://x.example" }),
    ).toThrow(ConfigError);
    expect(loadConfig({ STORAGE_ACCOUNT_NAME: "acct", STORAGE_BLOB_ENDPOINT: "" }).settings.STORAGE_BLOB_ENDPOINT).toBeUndefined();
  });
  it("rejects bad settings with a message naming them", () => {
    expect(() => loadConfig({ READ_SAS_MINUTES: "90" })).toThrow(ConfigError);
    expect(() => loadConfig({ READ_SAS_MINUTES: "90" })).toThrow(/READ_SAS_MINUTES/);
    expect(() => loadConfig({ AZUREML_WORKSPACE: "w" })).toThrow(/go together/);
    expect(() => loadConfig({ QUEUE_TRANSPORT: "servicebus" })).toThrow(/SERVICEBUS_CONNECTION_STRING/);
  });
});
