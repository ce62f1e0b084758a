import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { UserStore } from "../../shared/auth.js";
import { createStorageClients } from "../../shared/storage/clients.js";
import { testConfig } from "../support/env.js";

const run = promisify(execFile);

describe("npm run create-admin", () => {
  it("creates an image-admin in the configured storage and prints its secret once", async () => {
    const config = testConfig();
    const env = { ...process.env, STORAGE_CONNECTION_STRING: config.settings.STORAGE_CONNECTION_STRING, RESOURCE_PREFIX: config.prefix };
    const { stdout } = await run(process.execPath, ["--import", "tsx", "scripts/create-admin.ts", "--email", "ops@example.com"], { env });
    const key = /Authentication-Key: (\S+)/.exec(stdout)?.[1];
    const secret = /Authentication-Secret: (\S+)/.exec(stdout)?.[1];
    expect(key).toMatch(/^[0-9a-f]{32}$/);
    expect(secret).toMatch(/^[0-9a-f]{32}$/);
    const users = new UserStore(createStorageClients(config).table("users"));
    const principal = await users.authenticate(new Headers({ "Authentication-Key": key!, "Authentication-Secret": secret! }));
    expect(principal).toEqual({ apikey: key, role: "image-admin", email: "ops@example.com" });
    // Only the hash is stored.
    expect(JSON.stringify(await users.getUser(key!))).not.toContain(secret!);
    await expect(users.authenticate(new Headers({ "Authentication-Key": key!, "Authentication-Secret": "wrong" }))).rejects.toMatchObject({ status: 401 });
  });
});
