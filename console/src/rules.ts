/**
 * The title rules, checked as the admin types. They mirror shared/domain/imageSets.ts (titleProblem) and
 * shared/domain/campaigns.ts (campaignTitleProblem), which pull zod into any bundle that imports them;
 * test/unit/consoleRules.test.ts keeps the two in step.
 */
const MAX_IMAGESET_TITLE = 63 - "dropbox-".length;

export function imageSetTitleProblem(title: string): string | null {
  if (title.length < 1 || title.length > MAX_IMAGESET_TITLE) return `title must be 1 to ${MAX_IMAGESET_TITLE} characters long`;
  if (!/^[a-z0-9-]+$/.test(title)) return "title may only hold lowercase letters, digits and hyphens (it names a storage container)";
  if (!/^[a-z0-9]/.test(title) || !/[a-z0-9]$/.test(title)) return "title must start and end with a lowercase letter or digit";
  if (title.includes("--")) return "title may not hold two hyphens in a row";
  return null;
}

export function campaignTitleProblem(title: string): string | null {
  if (title.length < 1 || title.length > 200) return "title must be 1 to 200 characters long";
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(title)) return "title may only hold letters, digits, '.', '_' and '-', and must start with a letter or digit";
  return null;
}

/** A JSON object typed into a text area, or the reason it is not one (empty: none). */
export function parseJsonObject(text: string): { value?: Record<string, unknown>; problem?: string } {
  if (!text.trim()) return {};
  try {
    const value = JSON.parse(text) as unknown;
    if (!value || typeof value !== "object" || Array.isArray(value)) return { problem: 'must be a JSON object, e.g. {"country": "NL"}' };
    return { value: value as Record<string, unknown> };
  } catch (error) {
    return { problem: `not valid JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
}
