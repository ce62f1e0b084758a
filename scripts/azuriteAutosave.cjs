// Preloaded into a persisted Azurite (node --require, see scripts/azurite.ts). Azurite keeps table and
// queue metadata in LokiJS, which saves by serialising the whole database every 5 s while anything
// changed. That cost grows with the data: at 100,000 images the table file is ~120 MB and one save
// blocks Azurite's only thread for ~3 s, so under sustained writes it spent most of its time saving
// and ingest into a large store ran at a tenth of the rate into an empty one. Here the next save waits
// at least 5 s and at least 20 times as long as the last save took, which bounds saving to ~5% of the
// time at any size. What it costs: a hard kill of Azurite itself (SIGKILL, power loss) loses up to that
// interval of writes instead of 5 s; a normal stop, SIGTERM or the end of our process still saves
// everything (Loki's close() saves a dirty database; scripts/azurite.ts's watchdog turns our exit into
// SIGTERM).
"use strict";

const { dirname } = require("node:path");

const MIN_INTERVAL_MS = 5000;
const INTERVAL_PER_SAVE_MS = 20;

// The LokiJS that Azurite itself loads (resolved from its CLI script, argv[1]).
const Loki = require(require.resolve("lokijs", { paths: [dirname(process.argv[1])] }));

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
