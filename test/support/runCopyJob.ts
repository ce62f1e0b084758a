/** Runs one image set copy job in its own process, so a test can kill it half-way (SIGKILL, no clean-up). */
import { loadConfig } from "../../shared/config.js";
import { runImageSetCopy } from "../../shared/jobs/imageSetCopy.js";
import { jobLog } from "../../shared/jobs/runtime.js";
import { createServices } from "../../shared/services.js";

const services = createServices(loadConfig());
await runImageSetCopy(
  services,
  Number(process.argv[2]),
  jobLog((_, line) => console.log(line), { job: "imageset-copy" }),
);
