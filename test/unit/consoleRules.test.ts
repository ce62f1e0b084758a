import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { campaignTitleProblem as consoleCampaignRule, imageSetTitleProblem as consoleSetRule } from "../../console/src/rules.js";
import { campaignTitleProblem } from "../../shared/domain/campaigns.js";
import { titleProblem } from "../../shared/domain/imageSets.js";

/** The console checks titles as the admin types with its own copy of the rules (the domain modules pull zod into the bundle): they must agree. */
describe("the console's title rules are the API's", () => {
  const samples = [
    "",
    "a",
    "imageset-26-10-2020",
    "Bad Title",
    "-lead",
    "trail-",
    "dou--ble",
    "a".repeat(55),
    "a".repeat(56),
    "ünï",
    "a_b",
    "a.b",
    "A",
    "0",
    "campaign-26-10-2020",
    "x".repeat(200),
    "x".repeat(201),
    ".dot",
    "tab\there",
  ];
  const titles = fc.oneof(fc.constantFrom(...samples), fc.stringMatching(/^[a-zA-Z0-9._ -]{0,60}$/), fc.string({ maxLength: 70 }));

  it("image set titles", () => {
    for (const title of samples) expect(consoleSetRule(title), title).toBe(titleProblem(title));
    fc.assert(
      fc.property(titles, (title) => consoleSetRule(title) === titleProblem(title)),
      { numRuns: 2000, seed: 7 },
    );
  });

  it("campaign titles", () => {
    for (const title of samples) expect(consoleCampaignRule(title), title).toBe(campaignTitleProblem(title));
    fc.assert(
      fc.property(titles, (title) => consoleCampaignRule(title) === campaignTitleProblem(title)),
      { numRuns: 2000, seed: 7 },
    );
  });
});
