// Preloaded into Azurite (node --require, see scripts/azurite.ts): changes to how Azurite's table and
// queue services use LokiJS, each because a cost grew with the size of the whole table.
//
// 1. Queries of one partition read that partition. Azurite's queryTableEntities runs every query as a
//    JavaScript predicate over every entity of the table (`chain().where(fn)`), so a range read of one
//    partition of 100 rows cost a scan of all 900,000 entities of a 300,000-image store. Where the filter's
//    top level is a conjunction with a term `PartitionKey eq '<value>'` (how the app reads: shared/storage/
//    queries.ts), the query starts from that partition through Loki's PartitionKey index, then applies the
//    same predicate: the same rows, in the same order. Any other filter (a top-level `or`, none) runs as
//    before.
// 2. Persisted, LokiJS saves by serialising the whole database every 5 s while anything changed; at
//    100,000 images the table file is ~120 MB and one save blocks Azurite's only thread for ~3 s. Here the
//    next save waits at least 5 s and at least 20 times as long as the last save took, which bounds saving
//    to ~5% of the time at any size. What it costs: a hard kill of Azurite itself (SIGKILL, power loss)
//    loses up to that interval of writes instead of 5 s; a normal stop, SIGTERM or the end of our process
//    still saves everything (Loki's close() saves a dirty database; scripts/azurite.ts's watchdog turns our
//    exit into SIGTERM).
"use strict";

const { dirname, join } = require("node:path");

/**
 * The partition an OData filter pins, or undefined: the value of a top-level conjunct `PartitionKey eq '...'`
 * (optionally in parentheses) when the filter has no top-level `or`. String literals and parentheses are
 * respected, so `PartitionKey eq 'a' and (RowKey eq 'x' or RowKey eq 'y')` pins `a` and
 * `PartitionKey eq 'a' or RowKey eq 'x'` pins nothing.
 */
function partitionOfFilter(filter) {
  if (typeof filter !== "string" || filter === "") return undefined;
  const terms = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < filter.length; i++) {
    const ch = filter[i];
    if (ch === "'") {
      // A literal: '' is an escaped quote inside it.
      for (i++; i < filter.length; i++) {
        if (filter[i] === "'") {
          if (filter[i + 1] === "'") i++;
          else break;
        }
      }
      continue;
    }
    if (ch === "(") depth++;
    else if (ch === ")") depth--;
    else if (depth === 0 && /\s/.test(ch)) {
      const word = /^\s+(and|or)\s+/i.exec(filter.slice(i));
      if (word) {
        if (word[1].toLowerCase() === "or") return undefined;
        terms.push(filter.slice(start, i));
        i += word[0].length - 1;
        start = i + 1;
      }
    }
  }
  if (depth !== 0) return undefined;
  terms.push(filter.slice(start));
  for (let term of terms) {
    term = term.trim();
    while (/^\(.*\)$/s.test(term) && balanced(term.slice(1, -1))) term = term.slice(1, -1).trim();
    const match = /^PartitionKey\s+eq\s+'((?:[^']|'')*)'$/s.exec(term);
    if (match) return match[1].replace(/''/g, "'");
  }
  return undefined;
}

/** Whether parentheses outside literals balance (so stripping an outer pair keeps one expression). */
function balanced(text) {
  let depth = 0;
  let quoted = false;
  for (const ch of text) {
    if (ch === "'") quoted = !quoted;
    else if (!quoted && ch === "(") depth++;
    else if (!quoted && ch === ")" && --depth < 0) return false;
  }
  return depth === 0 && !quoted;
}

module.exports = { partitionOfFilter };

// Patched only inside Azurite (argv[1] is its CLI script); a test that requires this file for
// partitionOfFilter gets the function alone.
const azuriteCli = process.argv[1] && /azurite[\\/]dist[\\/]src[\\/]azurite\.js$/.test(process.argv[1]) ? process.argv[1] : undefined;
if (azuriteCli) {
  const fromAzurite = (request) => require(require.resolve(request, { paths: [dirname(azuriteCli)] }));

  // 1. Partition-pinned queries.
  const Store = fromAzurite(join(dirname(azuriteCli), "table", "persistence", "LokiTableMetadataStore.js")).default;
  const query = Store.prototype.queryTableEntities;
  Store.prototype.queryTableEntities = function queryTableEntities(context, account, table, queryOptions, ...rest) {
    const partition = partitionOfFilter(queryOptions && queryOptions.filter);
    if (partition === undefined) return query.call(this, context, account, table, queryOptions, ...rest);
    // The original takes the collection and calls chain() before its first await: for that call, the
    // collection's chain starts from the partition's entities (an indexed find), then runs as before.
    this.getEntityCollection = (...args) => {
      const collection = Store.prototype.getEntityCollection.apply(this, args);
      const pinned = Object.create(collection);
      pinned.chain = () => collection.chain().find({ PartitionKey: partition });
      return pinned;
    };
    try {
      return query.call(this, context, account, table, queryOptions, ...rest);
    } finally {
      delete this.getEntityCollection;
    }
  };

  // 1b. Entity collections indexed by PartitionKey alone. Loki keeps each index as a sorted array that a
  // remove shifts in a loop over the whole table (8 ms at 900,000 entities) and an insert splices; Azurite
  // reads entities by partition (point reads name PartitionKey first), so the RowKey index doubled those
  // costs for nothing. Collections already on disk keep the indexes they were saved with.
  const Loki = fromAzurite("lokijs");
  const addCollection = Loki.prototype.addCollection;
  Loki.prototype.addCollection = function (name, options) {
    const indices = options && options.indices;
    if (Array.isArray(indices) && indices.length === 2 && indices[0] === "PartitionKey" && indices[1] === "RowKey")
      return addCollection.call(this, name, { ...options, indices: ["PartitionKey"] });
    return addCollection.call(this, name, options);
  };

  // 2. Autosave spaced by what a save costs.
  const MIN_INTERVAL_MS = 5000;
  const INTERVAL_PER_SAVE_MS = 20;
  Loki.prototype.autosaveEnable = function autosaveEnable(_options, callback) {
    this.autosave = true;
    const token = {};
    this.adaptiveAutosaveToken = token;
    let lastSaveMs = 0;
    const schedule = () => {
      if (this.adaptiveAutosaveToken !== token) return;
      this.autosaveHandle = setTimeout(tick, Math.max(this.autosaveInterval ?? MIN_INTERVAL_MS, MIN_INTERVAL_MS, lastSaveMs * INTERVAL_PER_SAVE_MS));
    };
    const tick = () => {
      if (this.adaptiveAutosaveToken !== token) return;
      if (!this.autosaveDirty() || this.ignoreAutosave) return schedule();
      const started = Date.now();
      this.saveDatabase((error) => {
        lastSaveMs = Date.now() - started;
        if (typeof callback === "function") callback(error);
        schedule();
      });
    };
    schedule();
  };
  Loki.prototype.autosaveDisable = function autosaveDisable() {
    this.adaptiveAutosaveToken = undefined;
    if (this.autosaveHandle !== undefined && this.autosaveHandle !== null) {
      clearTimeout(this.autosaveHandle);
      this.autosaveHandle = null;
    }
  };
}
