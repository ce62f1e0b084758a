import { inject } from "vitest";
import { randomBytes } from "node:crypto";
import { loadConfig, type AppConfig } from "../../shared/config.js";

/** A config on the test run's Azurite with a prefix of its own, so test files never see each other's data. */
export function testConfig(overrides: Record<string, string> = {}): AppConfig {
  const prefix = `t${randomBytes(4).toString("hex")}`;
  return loadConfig({
    STORAGE_CONNECTION_STRING: inject("storageConnectionString"),
    RESOURCE_PREFIX: prefix,
    LOCAL_ADMIN_KEY: "test-admin-key",
    LOCAL_ADMIN_SECRET: "test-admin-secret",
    PORT: "0",
    ...overrides,
  });
}
