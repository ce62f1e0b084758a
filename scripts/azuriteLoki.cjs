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
//    to ~5% of the time at any size, and each table is written a slice at a time (3, below), so a save no
//    longer stops requests while it runs. What it costs: a hard kill of Azurite itself (SIGKILL, power loss)
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
      pinned.chain = () => partitionChain(collection, partition);
      return pinned;
    };
    try {
      return query.call(this, context, account, table, queryOptions, ...rest);
    } finally {
      delete this.getEntityCollection;
    }
  };

  // 1b. Entity collections find their rows through a map (PartitionKey -> RowKey -> $loki), not Loki's
  // binary indexes. Loki keeps an index as an array of data positions sorted by value: every insert splices
  // it and every remove shifts it in a loop, so at 900,000 entities each insert cost ~0.4 ms and recording
  // into a 300,000-image store ran at 0.6 of the empty-store rate. Without them an insert is a push, a point
  // read (Azurite's findOne({PartitionKey, RowKey})) two map lookups and a binary search of the ids, and a
  // pinned query starts from its partition's positions. Indexes saved with a collection are dropped on load.
  const Loki = fromAzurite("lokijs");
  const Collection = Loki.Collection;
  /** Azurite names a table's entity collection `<account>$<table>`; its own collections start with `$`. */
  const isEntityCollection = (collection) => /^[^$]+\$[^$]+$/.test(collection.name);
  const entityMaps = new WeakMap();
  const addToMap = (map, doc) => {
    let rows = map.get(doc.PartitionKey);
    if (!rows) map.set(doc.PartitionKey, (rows = new Map()));
    rows.set(doc.RowKey, doc.$loki);
  };
  const removeFromMap = (map, partitionKey, rowKey) => {
    const rows = map.get(partitionKey);
    if (rows && rows.delete(rowKey) && rows.size === 0) map.delete(partitionKey);
  };
  /** The collection's map, built from its data on first use and kept up to date from then on. */
  const entityMap = (collection) => {
    let map = entityMaps.get(collection);
    if (!map) {
      map = new Map();
      for (const doc of collection.data) addToMap(map, doc);
      entityMaps.set(collection, map);
    }
    return map;
  };
  /** A resultset of one partition's entities, in data order (Azurite sorts what it returns). */
  function partitionChain(collection, partition) {
    const result = collection.chain();
    const rows = entityMap(collection).get(partition);
    const positions = [];
    for (const id of rows ? rows.values() : []) {
      const found = collection.get(id, true);
      if (found) positions.push(found[1]);
    }
    result.filteredrows = positions.sort((a, b) => a - b);
    result.filterInitialized = true;
    return result;
  }
  const addCollection = Loki.prototype.addCollection;
  Loki.prototype.addCollection = function (name, options) {
    const indices = options && options.indices;
    if (Array.isArray(indices) && indices.length === 2 && indices[0] === "PartitionKey" && indices[1] === "RowKey")
      return addCollection.call(this, name, { ...options, indices: [] });
    return addCollection.call(this, name, options);
  };
  const loadJSONObject = Loki.prototype.loadJSONObject;
  Loki.prototype.loadJSONObject = function (...args) {
    const result = loadJSONObject.apply(this, args);
    for (const collection of this.collections) {
      if (!isEntityCollection(collection)) continue;
      delete collection.binaryIndices.PartitionKey;
      delete collection.binaryIndices.RowKey;
    }
    return result;
  };
  const findOne = Collection.prototype.findOne;
  Collection.prototype.findOne = function (query) {
    const keys = query && typeof query === "object" ? Object.keys(query) : [];
    if (
      keys.length === 2 &&
      typeof query.PartitionKey === "string" &&
      typeof query.RowKey === "string" &&
      isEntityCollection(this) &&
      !this.binaryIndices.PartitionKey
    ) {
      const id = entityMap(this).get(query.PartitionKey)?.get(query.RowKey);
      return id === undefined ? null : this.get(id);
    }
    return findOne.call(this, query);
  };
  const insertOne = Collection.prototype.insertOne;
  Collection.prototype.insertOne = function (...args) {
    const inserted = insertOne.apply(this, args);
    const map = entityMaps.get(this);
    if (map && inserted && typeof inserted === "object") addToMap(map, inserted);
    return inserted;
  };
  // Documents leaving a collection (Loki's two removal paths: one document, or positions): a save being
  // written keeps their lines (keepLine, section 3), then their map entries go.
  const forget = (collection, docs, remove) => {
    for (const doc of docs) keepLine(doc);
    const result = remove();
    const map = entityMaps.get(collection);
    if (map) for (const doc of docs) removeFromMap(map, doc.PartitionKey, doc.RowKey);
    return result;
  };
  const removeOne = Collection.prototype.remove;
  Collection.prototype.remove = function (doc) {
    const removed = Array.isArray(doc) ? undefined : typeof doc === "number" ? this.get(doc) : doc;
    return forget(this, removed && typeof removed === "object" ? [removed] : [], () => removeOne.call(this, doc));
  };
  const removeBatchByPositions = Collection.prototype.removeBatchByPositions;
  Collection.prototype.removeBatchByPositions = function (positions) {
    const removed = positions.map((position) => this.data[position]).filter(Boolean);
    return forget(this, removed, () => removeBatchByPositions.call(this, positions));
  };
  const clear = Collection.prototype.clear;
  Collection.prototype.clear = function (...args) {
    entityMaps.delete(this);
    return clear.apply(this, args);
  };

  // 1c. An update that leaves an indexed value as it was leaves that index alone. Loki re-places the
  // document in every binary index on each update, finding it by a linear search of the whole index
  // (2.6 ms at 900,000 entities, when entity collections still had one). Entity collections have none now
  // (1b); the queue service's message collections do (accountName, queueName, messageId, visibleTime), and a
  // message's visibility update keeps the first three. Where a value is unchanged its place in the sorted
  // index is too (an update keeps the document's data position). Skipped only when the stored
  // document is a different object from the new one, so the old value can be compared.
  const update = Collection.prototype.update;
  const reindex = Collection.prototype.adaptiveBinaryIndexUpdate;
  // Kept beside the collections, not on them: Loki serialises a collection's own fields into the file.
  const unchangedIndexes = new WeakMap();
  Collection.prototype.update = function (doc) {
    if (Array.isArray(doc) || !doc || !Object.prototype.hasOwnProperty.call(doc, "$loki")) return update.call(this, doc);
    const found = this.get(doc.$loki, true);
    const old = found ? found[0] : undefined;
    const unchanged = old && old !== doc ? Object.keys(this.binaryIndices).filter((name) => old[name] === doc[name]) : [];
    if (!unchanged.length) return update.call(this, doc);
    unchangedIndexes.set(this, new Set(unchanged));
    try {
      return update.call(this, doc);
    } finally {
      unchangedIndexes.delete(this);
    }
  };
  Collection.prototype.adaptiveBinaryIndexUpdate = function (dataPosition, binaryIndexName) {
    if (unchangedIndexes.get(this)?.has(binaryIndexName)) return;
    return reindex.call(this, dataPosition, binaryIndexName);
  };

  // 3. Persisted, each collection (an Azurite table, a queue's messages...) is its own file, written one
  // document per line, and only when it changed. Loki's own fs adapter serialises the whole database into
  // one string: past ~512 MB (V8's longest string; a 300,000-image store with a labeled 100,000-image
  // campaign) the save throws and Azurite dies. This is Loki's structured adapter with two repairs: a file
  // is written beside its final name and renamed into place (the original writes into the live file, so a
  // crash mid-save lost that table), and when the list of collections changed since the last save (a table
  // created or deleted shifts the files' numbers) every collection is written. A database saved whole by
  // the old adapter is read whole once; the next save writes it in the new form.
  const fs = require("node:fs");
  /** Bytes of a table file buffered before the save waits for the disk (and Azurite serves requests). */
  const SAVE_BUFFER_BYTES = 1024 * 1024;
  const Structured = fromAzurite("lokijs/src/loki-fs-structured-adapter.js");
  const savedNames = new WeakMap();
  const namesOf = (dbref) => JSON.stringify((dbref.collections || []).map((c) => c.name));
  const loadStructured = Structured.prototype.loadDatabase;
  Structured.prototype.loadDatabase = function (dbname, callback) {
    const done = (result) => {
      if (result && typeof result === "object" && !(result instanceof Error)) savedNames.set(this, namesOf(result));
      callback(result);
    };
    if (fs.existsSync(dbname) && !fs.existsSync(`${dbname}.0`)) {
      // One JSON document: the old adapter's whole database, or a container without collections.
      fs.readFile(dbname, "utf8", (error, text) => {
        if (error) return callback(error);
        let parsed;
        try {
          parsed = JSON.parse(text);
        } catch (parseError) {
          return callback(parseError);
        }
        callback(parsed); // savedNames left unset: the first save writes every collection
      });
      return;
    }
    return loadStructured.call(this, dbname, done);
  };
  const exportStructured = Structured.prototype.exportDatabase;
  Structured.prototype.exportDatabase = function (dbname, dbref, callback) {
    const names = namesOf(dbref);
    if (savedNames.get(this) !== names) for (const collection of dbref.collections) collection.dirty = true;
    return exportStructured.call(this, dbname, dbref, (result) => {
      savedNames.set(this, names);
      callback(result);
    });
  };
  // A table is written a slice at a time (until the file's buffer is full, then on its drain), so saving a
  // 900,000-entity table no longer stops Azurite's only thread for seconds: requests are served between
  // slices. What is written is the copy Loki took when the save began (its collections hold the documents by
  // reference, and Azurite replaces a document on every change rather than changing it in place), so the
  // file is the table as of that moment, never half of a transaction.
  Structured.prototype.saveNextPartition = function (dbname, partitions, callback) {
    const next = partitions.next();
    if (next.done) return callback();
    const filename = next.value === -1 ? dbname : `${dbname}.${next.value}`;
    const saving = `${filename}.saving`;
    const out = fs.createWriteStream(saving, { highWaterMark: SAVE_BUFFER_BYTES });
    out.on("close", () =>
      fs.rename(saving, filename, (error) => {
        if (error) throw error; // as a failed write did before: Azurite's own handlers report it
        this.saveNextPartition(dbname, partitions, callback);
      }),
    );
    const collection = next.value === -1 ? undefined : this.dbref.collections[next.value];
    const keep = collection !== undefined && isEntityCollection(collection);
    const lines = collection ? collection.data.values() : this.generateDestructured({ partition: -1 });
    const pump = () => {
      for (;;) {
        const line = lines.next();
        if (line.done) return out.end();
        if (!out.write(collection ? lineOf(line.value, keep) : `${line.value}\n`)) return out.once("drain", pump);
      }
    };
    pump();
  };
  // A document's line, kept for table entities (entity collections, 1b): Azurite never changes an entity in place (a change is a
  // new document), so an entity's line stays right for as long as the entity lives, and a save only
  // serialises what changed since the last one (saving a 900,000-entity table was seconds of Azurite's
  // only thread, taken from the requests). Other documents (queue messages) are serialised each time.
  // While a save is being written, a document removed meanwhile is serialised first: Loki's remove
  // deletes the document's $loki and meta in place, and the save's copy still holds it.
  const lines = new WeakMap();
  let savesInProgress = 0;
  const lineOf = (doc, keep) => {
    let line = lines.get(doc);
    if (line === undefined) {
      line = `${JSON.stringify(doc)}\n`;
      if (keep) lines.set(doc, line);
    }
    return line;
  };
  const keepLine = (doc) => {
    if (savesInProgress > 0 && doc && typeof doc === "object" && !lines.has(doc) && Object.prototype.hasOwnProperty.call(doc, "$loki"))
      lines.set(doc, `${JSON.stringify(doc)}\n`);
  };
  // Loki clears the dirty flags of a reference-mode save when it ends; with the writing spread out, a change
  // made meanwhile would then never be saved (not even on close). Cleared when the copy is taken instead, so
  // such a change marks its table for the next save; a failed save marks every table.
  const saveInternal = Loki.prototype.saveDatabaseInternal;
  Loki.prototype.saveDatabaseInternal = function (callback) {
    if (!(this.persistenceAdapter instanceof Structured)) return saveInternal.call(this, callback);
    const done =
      callback ||
      ((error) => {
        if (error) throw error;
      });
    const copy = this.copy({ removeNonSerializable: true });
    this.autosaveClearFlags();
    savesInProgress++;
    this.persistenceAdapter.exportDatabase(this.filename, copy, (error) => {
      savesInProgress--;
      if (error) for (const collection of this.collections) collection.dirty = true;
      done(error);
    });
  };
  const configure = Loki.prototype.configureOptions;
  Loki.prototype.configureOptions = function (options, initialConfig) {
    if (options && options.persistenceMethod === "fs" && !options.adapter) {
      const { persistenceMethod: _fs, ...rest } = options;
      return configure.call(this, { ...rest, adapter: new Structured() }, initialConfig);
    }
    return configure.call(this, options, initialConfig);
  };

  // 2. Autosave spaced by what a save costs.
  const MIN_INTERVAL_MS = 5000;
  const INTERVAL_PER_SAVE_MS = 20;
  const autosaveTokens = new WeakMap();
  Loki.prototype.autosaveEnable = function autosaveEnable(_options, callback) {
    this.autosave = true;
    const token = {};
    autosaveTokens.set(this, token);
    let lastSaveMs = 0;
    const schedule = () => {
      if (autosaveTokens.get(this) !== token) return;
      this.autosaveHandle = setTimeout(tick, Math.max(this.autosaveInterval ?? MIN_INTERVAL_MS, MIN_INTERVAL_MS, lastSaveMs * INTERVAL_PER_SAVE_MS));
    };
    const tick = () => {
      if (autosaveTokens.get(this) !== token) return;
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
    autosaveTokens.delete(this);
    if (this.autosaveHandle !== undefined && this.autosaveHandle !== null) {
      clearTimeout(this.autosaveHandle);
      this.autosaveHandle = null;
    }
  };
}
