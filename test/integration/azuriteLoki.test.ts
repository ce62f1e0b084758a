import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { odata, TableClient } from "@azure/data-tables";
import { afterEach, describe, expect, it } from "vitest";
import { startAzurite, type AzuriteProcess } from "../../scripts/azurite.js";
import { azuriteConnectionString } from "../../shared/config.js";
import { mapLimit } from "../../shared/util/concurrency.js";
import { waitFor } from "../support/stack.js";

/**
 * A persisted Azurite runs with scripts/azuriteLoki.cjs, which replaces LokiJS's fixed 5 s autosave by
 * one spaced by what a save costs. What must still hold: changes reach the file on their own while
 * Azurite runs, and everything written before a stop is on disk after it, and back after a restart.
 */
describe("persisted Azurite with the adaptive autosave", () => {
  let dir: string | undefined;
  let azurite: AzuriteProcess | undefined;

  afterEach(async () => {
    await azurite?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  // The table service's files: the database container and a file per table (scripts/azuriteLoki.cjs).
  const tableFile = async () => {
    const files = (await readdir(dir!)).filter((f) => f.startsWith("__azurite_db_table__.json") && !f.endsWith(".saving"));
    return (await Promise.all(files.map((f) => readFile(join(dir!, f), "utf8").catch(() => "")))).join("\n");
  };
  const tableOf = (a: AzuriteProcess) =>
    TableClient.fromConnectionString(azuriteConnectionString("127.0.0.1", a.blobPort, a.queuePort, a.tablePort), "autosave", {
      allowInsecureConnection: true,
    });

  it("saves changes while running, and all of them on stop; a restart reads them back", async () => {
    dir = await mkdtemp(join(tmpdir(), "azurite-autosave-"));
    azurite = await startAzurite({ location: dir });
    const table = tableOf(azurite);
    await table.createTable();
    await table.createEntity({ partitionKey: "p", rowKey: "saved-by-autosave", value: 1 });
    // The first autosave comes 5 s after the write at most (the first interval; no save has cost anything yet).
    await waitFor("the autosave", async () => (await tableFile()).includes("saved-by-autosave"), 15_000);

    await table.createEntity({ partitionKey: "p", rowKey: "saved-on-stop", value: 2 });
    expect(await tableFile()).not.toContain("saved-on-stop");
    await azurite.stop();
    azurite = undefined;
    expect(await tableFile()).toContain("saved-on-stop");

    azurite = await startAzurite({ location: dir });
    const keys: string[] = [];
    for await (const entity of tableOf(azurite).listEntities()) keys.push(entity.rowKey!);
    expect(keys.sort()).toEqual(["saved-by-autosave", "saved-on-stop"]);
  }, 60_000);

  it("keeps every write acknowledged while a large table was being saved a slice at a time", async () => {
    dir = await mkdtemp(join(tmpdir(), "azurite-slices-"));
    azurite = await startAzurite({ location: dir });
    const table = tableOf(azurite);
    await table.createTable();
    // ~48 MB of rows, so a save spans many slices with requests served between them.
    const value = "x".repeat(30_000);
    await mapLimit(
      Array.from({ length: 800 }, (_, i) => i),
      8,
      (i) => table.createEntity({ partitionKey: "big", rowKey: `r${String(i).padStart(4, "0")}`, a: value, b: value }),
    );
    // Once a save of it is being written (its file beside the final name), five writes, then none: with the
    // dirty flags cleared when the save ends, these would be in no file, not even after the stop's save.
    await waitFor("a save being written", async () => (await readdir(dir!)).some((f) => f.endsWith(".saving")), 30_000, 2);
    const written: string[] = [];
    for (let i = 0; i < 5; i++) {
      await table.createEntity({ partitionKey: "small", rowKey: `w${i}` });
      written.push(`w${i}`);
    }
    await waitFor("the save's end", async () => !(await readdir(dir!)).some((f) => f.endsWith(".saving")), 30_000, 2);
    await azurite.stop();
    azurite = await startAzurite({ location: dir });
    const small: string[] = [];
    for await (const entity of tableOf(azurite).listEntities({ queryOptions: { filter: odata`PartitionKey eq ${"small"}` } })) small.push(entity.rowKey!);
    expect(small.sort()).toEqual(written);
  }, 90_000);

  it("keeps every table's rows across a restart after a table before them was deleted (the files are numbered by position)", async () => {
    dir = await mkdtemp(join(tmpdir(), "azurite-tables-"));
    azurite = await startAzurite({ location: dir });
    const client = (name: string, a: AzuriteProcess) =>
      TableClient.fromConnectionString(azuriteConnectionString("127.0.0.1", a.blobPort, a.queuePort, a.tablePort), name, { allowInsecureConnection: true });
    for (const name of ["first", "second", "third"]) {
      await client(name, azurite).createTable();
      await client(name, azurite).createEntity({ partitionKey: "p", rowKey: `${name}-row`, text: "x".repeat(1000) });
    }
    // Saved once with three tables, then the first goes and only the third changes.
    await waitFor("the first save", async () => (await tableFile()).includes("third-row"), 15_000);
    await client("first", azurite).deleteTable();
    await client("third", azurite).createEntity({ partitionKey: "p", rowKey: "third-later" });
    await azurite.stop();
    azurite = await startAzurite({ location: dir });
    const rows = async (name: string) => {
      const keys: string[] = [];
      for await (const entity of client(name, azurite!).listEntities()) keys.push(entity.rowKey!);
      return keys.sort();
    };
    expect(await rows("second")).toEqual(["second-row"]);
    expect(await rows("third")).toEqual(["third-later", "third-row"]);
  }, 60_000);
});
