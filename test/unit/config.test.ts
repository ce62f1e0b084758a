import { describe, expect, it } from "vitest";
import { loadConfig, ConfigError } from "../../shared/config.js";

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
  it("rejects bad settings with a message naming them", () => {
    expect(() => loadConfig({ READ_SAS_MINUTES: "90" })).toThrow(ConfigError);
    expect(() => loadConfig({ READ_SAS_MINUTES: "90" })).toThrow(/READ_SAS_MINUTES/);
    expect(() => loadConfig({ AZUREML_WORKSPACE: "w" })).toThrow(/go together/);
    expect(() => loadConfig({ QUEUE_TRANSPORT: "servicebus" })).toThrow(/SERVICEBUS_CONNECTION_STRING/);
  });
});
