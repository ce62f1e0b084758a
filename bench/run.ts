/**
 * `npm run bench [-- section ...]`: every benchmark, each printing its figures beside its baseline measured
 * in the same run (ratios are what to compare: this machine is shared and noisy). Sections: ingest,
 * labeling, scale, exports, masks, thumbnails; none named runs all.
 */
import { runExportBench } from "./exports.js";
import { runIngestBench } from "./ingest.js";
import { runLabelingBench } from "./labeling.js";
import { runMaskBench } from "./masks.js";
import { runScaleBench } from "./scale.js";
import { runThumbnailBench } from "./thumbnails.js";

const sections: Record<string, (log: (line: string) => void) => Promise<void>> = {
  ingest: runIngestBench,
  labeling: runLabelingBench,
  scale: runScaleBench,
  exports: runExportBench,
  masks: runMaskBench,
  thumbnails: runThumbnailBench,
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const unknown = wanted.filter((w) => !(w in sections));
if (unknown.length) {
  console.error(`unknown bench section(s): ${unknown.join(", ")}; choose from ${Object.keys(sections).join(", ")}`);
  process.exit(2);
}
for (const name of wanted.length ? wanted : Object.keys(sections)) {
  console.log(`\n=== ${name} ===`);
  const started = Date.now();
  await sections[name]!((line) => console.log(line));
  console.log(`(${name}: ${((Date.now() - started) / 1000).toFixed(1)} s)`);
}
