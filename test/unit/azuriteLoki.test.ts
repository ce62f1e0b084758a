import { createRequire } from "node:module";
import { odata } from "@azure/data-tables";
import { describe, expect, it } from "vitest";

/**
 * scripts/azuriteLoki.cjs starts a query of Azurite's table service from one partition when the filter pins
 * it. Pinning where the filter also admits other partitions would silently drop rows, so the rule is
 * tested on its own here (every storage test runs through it as well).
 */
const { partitionOfFilter } = createRequire(import.meta.url)("../../scripts/azuriteLoki.cjs") as {
  partitionOfFilter: (filter: unknown) => string | undefined;
};

describe("partitionOfFilter", () => {
  it("pins the partition of the app's filters (as the SDK's odata tag writes them)", () => {
    expect(partitionOfFilter(odata`PartitionKey eq ${"images!000003"}`)).toBe("images!000003");
    expect(partitionOfFilter(odata`PartitionKey eq ${"campaign!12!meta"} and RowKey ge ${"a"} and RowKey lt ${"b"}`)).toBe("campaign!12!meta");
    expect(partitionOfFilter(`${odata`PartitionKey eq ${"p"}`} and (${odata`RowKey eq ${"x"}`} or ${odata`RowKey eq ${"y"}`})`)).toBe("p");
    expect(partitionOfFilter(odata`RowKey ge ${"a"} and PartitionKey eq ${"later"}`)).toBe("later");
    expect(partitionOfFilter(odata`(PartitionKey eq ${"wrapped"}) and status eq ${"queued"}`)).toBe("wrapped");
  });

  it("reads quotes, spaces and keywords inside the literal as the value", () => {
    expect(partitionOfFilter(odata`PartitionKey eq ${"it's"} and RowKey gt ${"x"}`)).toBe("it's");
    expect(partitionOfFilter(odata`PartitionKey eq ${"a or b"}`)).toBe("a or b");
    expect(partitionOfFilter(odata`PartitionKey eq ${"a' or PartitionKey eq 'b"}`)).toBe("a' or PartitionKey eq 'b");
  });

  it("pins nothing when the filter can match other partitions", () => {
    expect(partitionOfFilter(odata`PartitionKey eq ${"a"} or RowKey eq ${"x"}`)).toBeUndefined();
    expect(partitionOfFilter(odata`PartitionKey eq ${"a"} and RowKey eq ${"x"} or PartitionKey eq ${"b"}`)).toBeUndefined();
    expect(partitionOfFilter(odata`(PartitionKey eq ${"a"} or PartitionKey eq ${"b"})`)).toBeUndefined();
    expect(partitionOfFilter(odata`not PartitionKey eq ${"a"}`)).toBeUndefined();
    expect(partitionOfFilter(odata`PartitionKey ne ${"a"}`)).toBeUndefined();
    expect(partitionOfFilter(odata`PartitionKey gt ${"key!"} and PartitionKey lt ${'key"'}`)).toBeUndefined();
    expect(partitionOfFilter(odata`(PartitionKey eq ${"a"}) or (RowKey eq ${"x"})`)).toBeUndefined();
    expect(partitionOfFilter("PartitionKey eq 'a' and (RowKey eq 'x'")).toBeUndefined();
    expect(partitionOfFilter("")).toBeUndefined();
    expect(partitionOfFilter(undefined)).toBeUndefined();
  });
});
