/** Runs one campaign finishing job in its own process, so a test can kill it half-way. */
import { loadConfig } from "../../shared/config.js";
import { runCampaignFinish } from "../../shared/jobs/campaignFinish.js";
import { jobLog } from "../../shared/jobs/runtime.js";
import { createServices } from "../../shared/services.js";

const services = createServices(loadConfig());
await runCampaignFinish(
  services,
  Number(process.argv[2]),
  jobLog((_, line) => console.log(line), { job: "campaign-finish" }),
);
