/**
 * Azure Machine Learning `MLTable` files (CLI/SDK v2 schema, https://learn.microsoft.com/azure/machine-learning/reference-yaml-mltable).
 *
 * An MLTable is a YAML file named `MLTable` in a folder; `mltable.load("<folder or URI>")` reads it. Paths are
 * relative to that folder or absolute URIs (`azureml://`, `https://`, `wasbs://`, `abfss://`, `adl://`). Every
 * string value is written single-quoted so glob characters (`*` would start a YAML alias) and `:`/`#` stay literal.
 */

/** One `paths` entry: a single file, a whole folder, or a glob pattern (`*`, `?`, `[abc]`, `[a-z]`, `**`). */
export type MLTablePath = { file: string } | { folder: string } | { pattern: string };

export const MLTABLE_SCHEMA_URL = "https://azuremlschemas.azureedge.net/latest/MLTable.schema.json";

/**
 * A file dataset for the images: no read transformation, so `to_pandas_dataframe()` gives one row per matched file
 * with its `Path` (as `mltable.from_paths(...)` does).
 */
export function imageFilesMLTable(paths: MLTablePath[]): string {
  if (paths.length === 0) throw new Error("an MLTable needs at least one path");
  return header() + pathsYaml(paths);
}

export interface DelimitedMLTableOptions {
  /** Column separator (default `,`). */
  delimiter?: string;
  /** Default `utf8` (the CSV export is UTF-8 without BOM). */
  encoding?: "utf8" | "utf8bom" | "iso88591" | "latin1" | "ascii" | "utf16" | "utf32" | "windows1252";
  /** Default `all_files_same_headers`: every file starts with the same header row. */
  header?: "no_header" | "from_first_file" | "all_files_different_headers" | "all_files_same_headers";
  /**
   * Default true: RFC 4180 allows line breaks inside quoted fields, and with false the loader would split such a
   * record silently.
   */
  supportMultiLine?: boolean;
  /** Default false: empty fields (e.g. `labeled_at` of an unlabeled image) load as null. */
  emptyAsString?: boolean;
  /** Default false. */
  includePathColumn?: boolean;
  /**
   * Left out unless set: the loader then infers types (its default, true). Only newer mltable versions know the
   * key, so it is written only when asked for.
   */
  inferColumnTypes?: boolean;
}

/** A tabular dataset over delimited text, e.g. the CSV label set: `labelSetMLTable([{ file: "./labels.csv" }])`. */
export function delimitedMLTable(paths: MLTablePath[], options: DelimitedMLTableOptions = {}): string {
  if (paths.length === 0) throw new Error("an MLTable needs at least one path");
  const read = [
    `      delimiter: ${quote(options.delimiter ?? ",")}`,
    `      encoding: ${options.encoding ?? "utf8"}`,
    `      header: ${options.header ?? "all_files_same_headers"}`,
    ...(options.inferColumnTypes === undefined ? [] : [`      infer_column_types: ${options.inferColumnTypes}`]),
    `      support_multi_line: ${options.supportMultiLine ?? true}`,
    `      empty_as_string: ${options.emptyAsString ?? false}`,
    `      include_path_column: ${options.includePathColumn ?? false}`,
  ];
  return header() + pathsYaml(paths) + "transformations:\n  - read_delimited:\n" + read.map((line) => `${line}\n`).join("");
}

/** The CSV label set written by the `csv` export, stored at `csvPath` relative to the MLTable (or a URI). */
export function labelSetMLTable(csvPath: string): string {
  return delimitedMLTable([{ file: csvPath }]);
}

/** `wasbs://` URI of a blob path (or glob) in a storage account, as MLTable paths accept. */
export function blobUri(accountName: string, container: string, path: string): string {
  return `wasbs://${container}@${accountName}.blob.core.windows.net/${path.replace(/^\/+/, "")}`;
}

function header(): string {
  return `$schema: ${MLTABLE_SCHEMA_URL}\ntype: mltable\n`;
}

function pathsYaml(paths: MLTablePath[]): string {
  return (
    "paths:\n" +
    paths
      .map((path) => {
        const [kind, value] = Object.entries(path)[0] as [string, string];
        return `  - ${kind}: ${quote(value)}\n`;
      })
      .join("")
  );
}

/** Single-quoted YAML scalar; the only escape is `''`. Line breaks are refused (they would fold into spaces). */
function quote(value: string): string {
  if (/[\r\n]/.test(value)) throw new Error(`MLTable value must be a single line: ${JSON.stringify(value)}`);
  return `'${value.replace(/'/g, "''")}'`;
}
