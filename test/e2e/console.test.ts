/**
 * The web console end to end, in a real browser: Debian's Chromium driven by playwright-core against the local
 * host (its own Azurite prefix, workers on). One admin session walks the whole flow by hand: sign in, create a
 * set, upload three images through the page's file chooser (one large enough to go in blocks), finish and see
 * the thumbnails, create a campaign and read the partner's secret, add the set, activate; the partner submits
 * boxes and a polygon through the API; the review page draws them where they belong (overlay coordinates
 * against the labels, and pixels of a screenshot inside, on and outside a box); reject one with a comment and
 * see it on the partner's page; approve the rest; run a COCO export and download the same bytes the API serves;
 * a mask export shows masks beside their images. Around it, the HTTP side of the new routes.
 *
 * UPDATE_SCREENSHOTS=1 writes each page's screenshot to docs/console-*.png (otherwise to a temporary folder).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import type { Browser, BrowserContext, Page } from "playwright-core";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consoleBuildIsCurrent } from "../../scripts/buildConsole.js";
import { consoleAssetsDir } from "../../shared/console/assets.js";
import { freePort } from "../../scripts/azurite.js";
import { chromiumInstalled, launchChromium } from "../support/browser.js";
import { call, startTestStack, waitFor, type TestStack } from "../support/stack.js";

const SHOTS = process.env.UPDATE_SCREENSHOTS === "1" ? path.resolve("docs") : mkdtempSync(path.join(tmpdir(), "console-shots-"));
/** Without Chromium the browser part cannot run: a clear failure in CI, a loud skip on a developer's machine. */
const browserMissing = !chromiumInstalled() && !process.env.CI;
if (browserMissing) console.warn("console.test.ts: no Chromium at /usr/bin/chromium; the browser test is SKIPPED (apt-get install chromium fonts-dejavu-core)");

let stack: TestStack;
let origin: string;
let consoleUrl: string;
let browser: Browser | undefined;
let context: BrowserContext;
let page: Page;
const pageErrors: string[] = [];
const started = Date.now();

/** Test images: A has a yellow block under its box, B is plain, C is noise over 4 MiB (uploaded in blocks). */
const A = { name: "a-boxes.png", width: 400, height: 300 };
const B = { name: "b-plain.jpg", width: 320, height: 240 };
const C = { name: "c-noise.png", width: 1400, height: 1100 };
const BLUE = [20, 40, 120];
const YELLOW = [250, 220, 30];

async function imageA(): Promise<Buffer> {
  const block = await sharp({ create: { width: 100, height: 80, channels: 3, background: { r: YELLOW[0]!, g: YELLOW[1]!, b: YELLOW[2]! } } })
    .png()
    .toBuffer();
  return sharp({ create: { width: A.width, height: A.height, channels: 3, background: { r: BLUE[0]!, g: BLUE[1]!, b: BLUE[2]! } } })
    .composite([{ input: block, left: 100, top: 80 }])
    .png()
    .toBuffer();
}
const imageB = () =>
  sharp({ create: { width: B.width, height: B.height, channels: 3, background: { r: 90, g: 140, b: 90 } } })
    .jpeg()
    .toBuffer();
/** Random noise does not compress: a PNG of ~4.6 MB, over the console's 4 MiB single-request limit. */
const imageC = () =>
  sharp(randomBytes(C.width * C.height * 3), { raw: { width: C.width, height: C.height, channels: 3 } })
    .png({ compressionLevel: 1 })
    .toBuffer();

const shot = async (name: string) => {
  await page.screenshot({ path: path.join(SHOTS, `console-${name}.png`) });
};

async function signIn(key: string, secret: string) {
  await page.goto(consoleUrl);
  await page.getByLabel("Authentication-Key").fill(key);
  await page.getByLabel("Authentication-Secret").fill(secret);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
}

async function signOut() {
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("button", { name: "Sign in" }).waitFor();
}

async function confirm(buttonName: string) {
  await page.getByRole("button", { name: buttonName, exact: true }).first().click();
  await page.locator("dialog[open]").getByRole("button", { name: buttonName, exact: true }).click();
}

/** All thumbnails of the page loaded (img complete with pixels). */
async function thumbnailsLoaded(count: number, scope = "main") {
  await page.waitForFunction(
    ({ count, scope }) => {
      const images = [...document.querySelectorAll(`${scope} .labeled img`)] as HTMLImageElement[];
      return images.length >= count && images.every((i) => i.complete && i.naturalWidth > 0);
    },
    { count, scope },
    { timeout: 20_000 },
  );
}

beforeAll(async () => {
  // test/support/globalSetup.ts built it from the current sources before any test file started.
  expect(consoleBuildIsCurrent()).toBe(true);
  const port = await freePort();
  // A fixed port: the host provisions blob CORS for this origin only.
  stack = await startTestStack({ settings: { PORT: String(port) } });
  origin = `http://127.0.0.1:${port}`;
  consoleUrl = `${origin}/api/v1/console/`;
  if (browserMissing) return;
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin });
  page = await context.newPage();
  page.on("pageerror", (error) => pageErrors.push(`pageerror: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") pageErrors.push(`console: ${message.text()}`);
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  if (process.env.TEST_LOG || process.env.UPDATE_SCREENSHOTS)
    console.log(`console.test.ts: ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in ${SHOTS}`);
});

describe("console assets and the new routes over HTTP", () => {
  it("serves the page with a strict CSP, hashed assets cached for a year, 304 on a matching ETag, JSON 404s; the JS stays under 150 KB gzipped", async () => {
    const pageResponse = await fetch(consoleUrl);
    expect(pageResponse.status).toBe(200);
    expect(pageResponse.headers.get("content-type")).toMatch(/^text\/html/);
    const csp = pageResponse.headers.get("content-security-policy")!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:\/\/(?!127\.0\.0\.1)/);
    expect(csp).toContain(new URL(stack.host.services.clients.blobService.url).origin);
    expect(pageResponse.headers.get("cache-control")).toBe("no-cache");
    const html = await pageResponse.text();
    expect(html).not.toMatch(/<script>(?!<\/)|<style>|https?:\/\//);
    const scripts = [...html.matchAll(/src="\/api\/v1\/console\/([^"]+\.js)"/g)].map((m) => m[1]!);
    expect(scripts.length).toBeGreaterThan(0);
    const asset = await fetch(`${origin}/api/v1/console/${scripts[0]}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("content-type")).toMatch(/javascript/);
    expect(asset.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    const again = await fetch(`${origin}/api/v1/console/${scripts[0]}`, { headers: { "If-None-Match": asset.headers.get("etag")! } });
    expect(again.status).toBe(304);
    for (const bad of ["nope.js", "..%2Findex.html", "%2e%2e", "index.html%00"]) {
      const r = await fetch(`${origin}/api/v1/console/${bad}`);
      expect(r.status, bad).toBeGreaterThanOrEqual(400);
      expect(r.status, bad).toBeLessThan(500);
      expect((await r.json()).detail, bad).toBeTypeOf("string");
    }
    // Budget: every built JavaScript file, gzipped.
    const dir = consoleAssetsDir();
    const gz = readdirSync(dir)
      .filter((f) => f.endsWith(".js"))
      .reduce((n, f) => n + gzipSync(readFileSync(path.join(dir, f)), { level: 9 }).length, 0);
    expect(gz).toBeLessThan(150 * 1024);
    if (process.env.TEST_LOG || process.env.UPDATE_SCREENSHOTS) console.log(`console JavaScript: ${gz} bytes gzipped`);
  });

  it("GET /me says who the key is", async () => {
    const me = await call(stack, "GET", "/me", stack.admin);
    expect(me.status).toBe(200);
    expect(me.body).toEqual({ apikey: stack.admin["Authentication-Key"], role: "image-admin", email: "admin@test.example", campaigns: null });
    expect(JSON.stringify(me.body)).not.toContain(stack.admin["Authentication-Secret"]);
    expect((await call(stack, "GET", "/me", {})).status).toBe(401);
    expect((await call(stack, "GET", "/me", { ...stack.admin, "Authentication-Secret": "wrong" })).status).toBe(401);
  });
});

describe.skipIf(browserMissing)("the console in Chromium", () => {
  let setId: number;
  let campaignId: number;
  let partner: Record<string, string>;
  const ids: Record<string, number> = {};
  const labels: Record<string, any[]> = {};

  it("signs in with the key pair, kept in sessionStorage only; a wrong secret is refused", async () => {
    const response = await page.goto(consoleUrl);
    expect(response!.headers()["content-security-policy"]).toContain("script-src 'self'");
    await page.getByRole("button", { name: "Sign in" }).waitFor();
    await shot("signin");
    await page.getByLabel("Authentication-Key").fill(stack.admin["Authentication-Key"]!);
    await page.getByLabel("Authentication-Secret").fill("wrong-secret");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("Unknown key or wrong secret.").waitFor();
    await signIn(stack.admin["Authentication-Key"]!, stack.admin["Authentication-Secret"]!);
    await page.getByRole("heading", { name: "Image sets" }).waitFor();
    const storage = await page.evaluate(() => ({ session: JSON.stringify(sessionStorage), local: localStorage.length, url: location.href }));
    expect(storage.session).toContain(stack.admin["Authentication-Secret"]);
    expect(storage.local).toBe(0);
    expect(storage.url).not.toContain(stack.admin["Authentication-Secret"]);
  });

  it("creates an image set (title rule checked as you type), uploads three images through the file chooser, finishes it and shows the thumbnails", async () => {
    const title = `${stack.config.prefix}-console`;
    await page.getByLabel("Title").fill("Bad Title");
    await page.getByText("title may only hold lowercase letters").waitFor();
    expect(await page.getByRole("button", { name: "Create image set" }).isDisabled()).toBe(true);
    await page.getByLabel("Title").fill(title);
    await page.getByRole("button", { name: "Create image set" }).click();
    await page.getByRole("heading", { name: `Image set ${title}` }).waitFor();
    setId = Number(/#\/sets\/(\d+)/.exec(page.url())![1]);

    const [chooser] = await Promise.all([page.waitForEvent("filechooser"), page.getByRole("button", { name: "Choose files…" }).click()]);
    const files = [
      { name: A.name, mimeType: "image/png", buffer: await imageA() },
      { name: B.name, mimeType: "image/jpeg", buffer: await imageB() },
      { name: C.name, mimeType: "image/png", buffer: await imageC() },
    ];
    expect(files[2]!.buffer.length).toBeGreaterThan(4 * 1024 * 1024);
    await chooser.setFiles(files);
    await page.getByText("(3 of 3 done", { exact: false }).waitFor({ timeout: 30_000 });
    await shot("upload");
    // The large file went in blocks, each byte as chosen.
    const dropbox = stack.host.services.clients.blobService.getContainerClient(`dropbox-${title}`);
    const blocks = await dropbox.getBlockBlobClient(C.name).getBlockList("committed");
    expect(blocks.committedBlocks?.length).toBe(2);
    expect((await dropbox.getBlobClient(C.name).downloadToBuffer()).equals(files[2]!.buffer)).toBe(true);
    expect((await dropbox.getBlobClient(A.name).getProperties()).contentType).toBe("image/png");

    await page.getByText("3 files in the dropbox").waitFor();
    await confirm("Finish image set");
    await page.locator("h1 .badge", { hasText: "finished" }).waitFor({ timeout: 30_000 });
    await thumbnailsLoaded(3);
    expect(await page.getByTestId("image-count").textContent()).toBe("3");
    await shot("imageset");
  });

  it("creates a campaign and shows the partner's secret once, adds the set, activates it", async () => {
    await page.getByRole("link", { name: "Campaigns" }).click();
    await page.getByLabel("Title").fill("console campaign");
    await page.getByText("title may only hold letters, digits").waitFor();
    await page.getByLabel("Title").fill("console-campaign");
    await page.getByLabel("Partner's e-mail").fill("console-partner@example.com");
    await page.getByRole("button", { name: "Create campaign" }).click();
    await page.getByText("it is shown only this once").waitFor();
    const key = (await page.getByTestId("partner-key").textContent())!;
    const secret = (await page.getByTestId("partner-secret").textContent())!;
    expect(key).toMatch(/^[0-9a-f]{32}$/);
    expect(secret).toMatch(/^[0-9a-f]{32}$/);
    partner = { "Authentication-Key": key, "Authentication-Secret": secret };
    await page.getByRole("button", { name: "Copy the partner's secret" }).click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
    await shot("campaign-created");

    await page.getByRole("link", { name: /Go to campaign console-campaign/ }).click();
    campaignId = Number(/#\/campaigns\/(\d+)/.exec(page.url())![1]);
    await page.getByLabel(new RegExp(`${stack.config.prefix}-console \\(3 images\\)`)).check();
    await page.getByRole("button", { name: "Add images of 1 set" }).click();
    await page.getByText("0 / 3").first().waitFor();
    await confirm("Activate");
    await page.locator("h1 .badge", { hasText: "active" }).waitFor();
    await shot("campaign");
  });

  it("the review page draws the partner's boxes and polygons where they belong", async () => {
    const images = (await call(stack, "GET", `/image_sets/${setId}/images`, stack.admin)).body.images as any[];
    for (const image of images) ids[image.blobstorage_path.split("/").pop()] = image.image_id;
    labels[A.name] = [
      { label: "Plastic", confidence: 0.9, bounding_box: { xmin: 100, xmax: 200, ymin: 80, ymax: 160 } },
      {
        label: "Wood",
        polygon: [
          [250, 40],
          [380, 40],
          [315, 140],
        ],
      },
    ];
    labels[B.name] = [{ label: "Glass", bounding_box: { xmin: 20, xmax: 150, ymin: 30, ymax: 200 } }];
    labels[C.name] = [
      { label: "Plastic", bounding_box: { xmin: 300, xmax: 900, ymin: 200, ymax: 700 } },
      {
        label: "Metal",
        polygon: [
          [10, 10],
          [400, 50],
          [200, 600],
          [20, 500],
        ],
      },
    ];
    const submitted = await call(
      stack,
      "PUT",
      `/campaigns/${campaignId}/objects`,
      partner,
      Object.entries(labels).map(([name, objects]) => ({ image_id: ids[name], objects })),
    );
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(200);

    await page.goto(`${consoleUrl}#/campaigns/${campaignId}/review`);
    await page.getByRole("heading", { name: "Review console-campaign" }).waitFor();
    await thumbnailsLoaded(3);
    const tile = page.locator(`.review-grid .labeled[data-image-id="${ids[A.name]}"]`);
    const box = tile.locator('rect[data-label="Plastic"]');
    expect(await box.evaluate((r) => ["x", "y", "width", "height"].map((a) => Number(r.getAttribute(a))))).toEqual([100, 80, 100, 80]);
    expect(await tile.locator('polygon[data-label="Wood"]').getAttribute("points")).toBe("250,40 380,40 315,140");
    // On screen: the box sits at its pixels' place over the picture, whatever the thumbnail's scale.
    const picture = (await tile.locator("img").boundingBox())!;
    const drawn = (await box.boundingBox())!;
    const scale = picture.width / A.width;
    expect(picture.height / A.height).toBeCloseTo(scale, 2);
    // (Chromium's box of an SVG shape includes half its stroke, 2.5 px wide on screen.)
    const within = (actual: number, expected: number, what: string) =>
      expect(Math.abs(actual - expected), `${what}: ${actual} vs ${expected}`).toBeLessThanOrEqual(1.6);
    within(drawn.x, picture.x + 100 * scale, "left");
    within(drawn.y, picture.y + 80 * scale, "top");
    within(drawn.x + drawn.width, picture.x + 200 * scale, "right");
    within(drawn.y + drawn.height, picture.y + 160 * scale, "bottom");
    // And in pixels: yellow (lightly tinted) inside the box, its colour on the edge, plain blue outside.
    const color = await box.getAttribute("stroke");
    const stroke = [1, 3, 5].map((i) => parseInt(color!.slice(i, i + 2), 16));
    const png = await tile.screenshot();
    const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const at = (x: number, y: number) => {
      const px = Math.min(info.width - 1, Math.round(x * scale)),
        py = Math.min(info.height - 1, Math.round(y * scale));
      const i = (py * info.width + px) * 3;
      return [data[i]!, data[i + 1]!, data[i + 2]!];
    };
    const near = (a: number[], b: number[], tolerance: number) => a.every((v, i) => Math.abs(v - b[i]!) <= tolerance);
    const tinted = YELLOW.map((v, i) => v * 0.88 + stroke[i]! * 0.12);
    expect(at(150, 120), "inside the box: the yellow block under a light fill").toSatisfy((p: number[]) => near(p, tinted, 30));
    expect(at(50, 250), "outside every label: the blue background").toSatisfy((p: number[]) => near(p, BLUE, 25));
    expect(at(350, 250), "outside every label: the blue background").toSatisfy((p: number[]) => near(p, BLUE, 25));
    const edge = [-1, 0, 1].map((d) => at(100 + d / scale, 120));
    expect(
      edge.some((p) => near(p, stroke, 60)),
      `the box's left edge in ${color}: ${JSON.stringify(edge)}`,
    ).toBe(true);
    await shot("review");
  });

  it("one image large: labels toggled per class, history overlaid; reject one with a comment by keyboard, approve the rest in bulk", async () => {
    await page.getByRole("button", { name: `Open image ${ids[A.name]} (user complete)` }).click();
    const viewer = page.getByRole("dialog", { name: `Image ${ids[A.name]}` });
    await thumbnailsLoaded(1, ".viewer");
    expect(await viewer.locator('rect[data-label="Plastic"]').getAttribute("x")).toBe("100");
    await viewer.getByRole("checkbox", { name: "Wood" }).uncheck();
    expect(await viewer.locator('polygon[data-label="Wood"]').count()).toBe(0);
    await viewer.getByRole("checkbox", { name: "Wood" }).check();
    expect(await viewer.locator('polygon[data-label="Wood"]').count()).toBe(1);
    await viewer.getByRole("checkbox", { name: /Overlay #1/ }).check();
    expect(await viewer.locator('rect[data-kind="ghost"]').count()).toBe(1);
    await shot("review-image");

    // Keyboard: next (j) / previous (k) to image B, reject (r) with a comment.
    const order = await page.locator(".review-grid .labeled").evaluateAll((tiles) => tiles.map((t) => Number(t.getAttribute("data-image-id"))));
    const steps = order.indexOf(ids[B.name]!) - order.indexOf(ids[A.name]!);
    // Each key is sent the moment the previous one's render shows (a few microtasks, before the next frame
    // runs effects), the way a quick reviewer types: "R" must open the box for the image now on screen.
    const landed = await page.evaluate(
      async ({ key, steps, target }) => {
        const shown = () => document.querySelector(".viewer")?.getAttribute("aria-label");
        for (let i = 0; i < steps; i++) {
          const before = shown();
          dispatchEvent(new KeyboardEvent("keydown", { key, bubbles: true }));
          for (let tick = 0; tick < 20 && shown() === before; tick++) await Promise.resolve();
        }
        dispatchEvent(new KeyboardEvent("keydown", { key: "r", bubbles: true }));
        return shown() === `Image ${target}`;
      },
      { key: steps > 0 ? "j" : "k", steps: Math.abs(steps), target: ids[B.name]! },
    );
    expect(landed, "J / K moved to image B").toBe(true);
    await page.getByRole("dialog", { name: `Image ${ids[B.name]}` }).waitFor();
    await page.getByLabel("Comment for the partner (required)").fill("The glass box is far too loose");
    await page.getByRole("button", { name: "Send back to the partner" }).click();
    await page.locator('.review-grid li[data-label-status="rejected"]').waitFor();
    while (await page.getByRole("dialog").count()) await page.keyboard.press("Escape");

    await page.getByRole("button", { name: "Approve 2 partner-complete on this page" }).click();
    await page.getByText("Approved 2 images.").waitFor();
    const statuses = (await call(stack, "GET", `/campaigns/${campaignId}/images`, stack.admin)).body.images as any[];
    const byId = Object.fromEntries(statuses.map((i) => [i.image_id, i]));
    expect(byId[ids[A.name]!].label_status).toBe("admin_complete");
    expect(byId[ids[C.name]!].label_status).toBe("admin_complete");
    expect(byId[ids[B.name]!]).toMatchObject({ label_status: "rejected", review_comment: "The glass box is far too loose" });
  });

  it("the partner sees its campaign, what is left to label, and the rejected image with the comment and its labels drawn", async () => {
    await signOut();
    await signIn(partner["Authentication-Key"]!, partner["Authentication-Secret"]!);
    await page.getByRole("heading", { name: "My campaigns" }).waitFor();
    await page.getByRole("link", { name: "console-campaign" }).click();
    await page.getByText("The glass box is far too loose").waitFor();
    const card = page.locator(`.rejected li[data-image-id="${ids[B.name]}"]`);
    await thumbnailsLoaded(1, ".rejected");
    const rect = card.locator('rect[data-label="Glass"]');
    expect(await rect.evaluate((r) => ["x", "y", "width", "height"].map((a) => Number(r.getAttribute(a))))).toEqual([20, 30, 130, 170]);
    await page.getByText("Still to label (1)").waitFor();
    await shot("partner");
    // The admin's pages are not the partner's: the API refuses and the page says so.
    await page.goto(`${consoleUrl}#/campaigns`);
    await page.getByRole("heading", { name: "My campaigns" }).waitFor();
  });

  it("runs a COCO export with live progress and downloads the same bytes the API serves; a mask export shows masks beside their images", async () => {
    await signOut();
    await signIn(stack.admin["Authentication-Key"]!, stack.admin["Authentication-Secret"]!);
    await page.goto(`${consoleUrl}#/campaigns/${campaignId}/exports`);
    await page.getByRole("heading", { name: "Exports of console-campaign" }).waitFor();
    await page.getByLabel("Format").selectOption("coco");
    await page.getByLabel("Labeled from").fill("2020-01-01");
    await page.getByRole("button", { name: "Start export" }).click();
    const job = page.locator('li.export[data-status="succeeded"]').first();
    await job.waitFor({ timeout: 30_000 });
    const exportId = (await job.getAttribute("data-export-id"))!;
    const [download] = await Promise.all([page.waitForEvent("download"), job.getByRole("link", { name: "Download" }).click()]);
    const downloaded = readFileSync(await download.path());
    const viaApi = (await call(stack, "GET", `/exports/${exportId}`, stack.admin)).body;
    const served = Buffer.from(await (await fetch(viaApi.download_url)).arrayBuffer());
    expect(downloaded.equals(served)).toBe(true);
    const coco = JSON.parse(downloaded.toString("utf8"));
    expect(coco.images.map((i: any) => i.id).sort()).toEqual([ids[A.name], ids[C.name]].sort());
    expect(viaApi.options.request).toMatchObject({ label_status: "admin_complete", start: "2020-01-01T00:00:00.000Z" });

    await page.getByLabel("Format").selectOption("masks");
    await page.getByLabel("Output folder").fill(`${stack.config.prefix}-gt`);
    await page.getByLabel("Mode (gt_mode)").selectOption("filled_polygon");
    await page.getByRole("button", { name: "Start export" }).click();
    const masks = page.locator('li.export[data-status="succeeded"]', { hasText: "MASKS" });
    await masks.waitFor({ timeout: 30_000 });
    await page.evaluate(() => scrollTo(0, 0));
    await shot("exports");
    await masks.getByRole("button", { name: "Show a few masks" }).click();
    await page.waitForFunction(
      () => {
        const canvases = [...document.querySelectorAll(".mask-pairs canvas")] as HTMLCanvasElement[];
        const images = [...document.querySelectorAll(".mask-pairs img")] as HTMLImageElement[];
        return canvases.length === 2 && canvases.every((c) => c.width > 1) && images.every((i) => i.complete && i.naturalWidth > 0);
      },
      undefined,
      { timeout: 20_000 },
    );
    await page.locator(".mask-pairs").scrollIntoViewIfNeeded();
    await shot("exports-masks");
  });

  it("the status page, the tablet width, and a 401 back to the sign-in page", async () => {
    await page.getByRole("link", { name: "Status" }).click();
    await page.getByRole("heading", { name: "Healthy" }).waitFor();
    await page.getByText("v1").first().waitFor();
    await shot("status");

    await page.setViewportSize({ width: 820, height: 1180 });
    await page.goto(`${consoleUrl}#/campaigns/${campaignId}/review`);
    await thumbnailsLoaded(3);
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth)).toBe(true);
    await shot("review-tablet");
    await page.setViewportSize({ width: 1280, height: 800 });

    await page.evaluate(() => sessionStorage.setItem("labeling-console.credentials", JSON.stringify({ key: "gone", secret: "gone" })));
    await page.goto(`${consoleUrl}#/campaigns`);
    await page.reload();
    await page.getByRole("button", { name: "Sign in" }).waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    // Nothing broke on the way: no script error, no CSP violation, no failed request logged by the page.
    expect(pageErrors.filter((e) => !/401 \(Unauthorized\)/.test(e))).toEqual([]);
  });
});

describe("GET /images/{id}/thumbnail and GET /images/thumbnails are authorised like GET /images/{id}", () => {
  it("admin and the campaign's partner get a 303 to a 256 px WebP (or JSON, or many at once); another partner, an unknown id and a bad size are refused", async () => {
    const set = await call(stack, "POST", "/image_sets", stack.admin, { title: `${stack.config.prefix}-thumbs` });
    const url = new URL(set.body.dropbox_url);
    url.pathname += "/wide.png";
    const wide = await sharp({ create: { width: 1000, height: 400, channels: 3, background: "#336699" } })
      .png()
      .toBuffer();
    expect((await fetch(url, { method: "PUT", headers: { "x-ms-blob-type": "BlockBlob" }, body: wide as BodyInit })).status).toBe(201);
    await call(stack, "PUT", `/image_sets/${set.body.imageset_id}`, stack.admin, { new_status: "finished" });
    await waitFor("set finished", async () => (await call(stack, "GET", `/image_sets/${set.body.imageset_id}`, stack.admin)).body.status === "finished");
    const imageId = (await call(stack, "GET", `/image_sets/${set.body.imageset_id}/images`, stack.admin)).body.images[0].image_id as number;
    const own = await call(stack, "POST", "/campaigns", stack.admin, { title: "thumbs-own", labeler_email: "thumbs-own@example.com" });
    const other = await call(stack, "POST", "/campaigns", stack.admin, { title: "thumbs-other", labeler_email: "thumbs-other@example.com" });
    await call(stack, "POST", `/campaigns/${own.body.campaign_id}/images`, stack.admin, [{ id: imageId }]);
    await call(stack, "PUT", `/campaigns/${own.body.campaign_id}`, stack.admin, { new_status: "active" });
    const key = (c: any) => ({ "Authentication-Key": c.body.access_token.apikey, "Authentication-Secret": c.body.access_token.apisecret });

    const first = await call(stack, "GET", `/images/${imageId}/thumbnail`, stack.admin);
    expect(first.status).toBe(303);
    expect(first.headers.get("cache-control")).toBe("no-store");
    const bytes = Buffer.from(await (await fetch(first.headers.get("location")!)).arrayBuffer());
    expect(await sharp(bytes).metadata()).toMatchObject({ format: "webp", width: 256, height: 102 });
    const json = await call(stack, "GET", `/images/${imageId}/thumbnail?size=512&redirect=false`, key(own));
    expect(json.status).toBe(200);
    expect(json.body).toMatchObject({ image_id: imageId, size: 512, image_width: 1000, image_height: 400 });
    expect((await sharp(Buffer.from(await (await fetch(json.body.url)).arrayBuffer())).metadata()).width).toBe(512);
    // Stored once: a second request renders nothing new.
    const container = stack.host.services.clients.blobService.getContainerClient(stack.config.imageContainer);
    const before = (await container.getBlobClient(`thumbnails/256/${imageId}.webp`).getProperties()).etag;
    expect((await call(stack, "GET", `/images/${imageId}/thumbnail`, key(own))).status).toBe(303);
    expect((await container.getBlobClient(`thumbnails/256/${imageId}.webp`).getProperties()).etag).toBe(before);

    expect((await call(stack, "GET", `/images/${imageId}/thumbnail`, key(other))).status).toBe(404);
    expect((await call(stack, "GET", `/images/${imageId}`, key(other))).status).toBe(404);
    expect((await call(stack, "GET", "/images/999999/thumbnail", stack.admin)).status).toBe(404);
    expect((await call(stack, "GET", `/images/${imageId}/thumbnail`, {})).status).toBe(401);
    const bad = await call(stack, "GET", `/images/${imageId}/thumbnail?size=300`, stack.admin);
    expect(bad.status).toBe(422);
    expect(bad.body.detail).toMatch(/size/);

    // Many at once: the same decision per image, each small rendition inline on request, refusals per entry.
    const many = await call(stack, "GET", `/images/thumbnails?ids=${imageId},999999&inline=true`, stack.admin);
    expect(many.status).toBe(200);
    expect(many.body.thumbnails[0]).toMatchObject({ image_id: imageId, size: 256, image_width: 1000, image_height: 400 });
    const inline = Buffer.from(many.body.thumbnails[0].data_url.replace(/^data:image\/webp;base64,/, ""), "base64");
    expect(inline.equals(bytes)).toBe(true);
    expect(many.body.thumbnails[1]).toEqual({ image_id: 999999, status: 404, detail: "image 999999 does not exist" });
    expect((await call(stack, "GET", `/images/thumbnails?ids=${imageId}`, key(own))).body.thumbnails[0].url).toMatch(/^http/);
    expect((await call(stack, "GET", `/images/thumbnails?ids=${imageId}`, key(other))).body.thumbnails).toEqual([
      { image_id: imageId, status: 404, detail: `image ${imageId} does not exist` },
    ]);
    expect((await call(stack, "GET", `/images/thumbnails?ids=${imageId}`, key(own))).body.thumbnails[0].data_url).toBeUndefined();
    for (const bad of ["ids=abc", "ids=", "ids=1,,2", `ids=${Array.from({ length: 101 }, (_, i) => i + 1).join(",")}`, "ids=1&size=7", ""]) {
      const r = await call(stack, "GET", `/images/thumbnails?${bad}`, stack.admin);
      expect(r.status, bad).toBe(422);
    }

    const me = await call(stack, "GET", "/me", key(own));
    expect(me.body).toMatchObject({
      role: "labeler",
      email: "thumbs-own@example.com",
      campaigns: [{ campaign_id: own.body.campaign_id, title: "thumbs-own", status: "active", progress: { done: 0, total: 1 }, access_ended: false }],
    });
    const rejected = await call(stack, "GET", `/campaigns/${own.body.campaign_id}/rejected`, key(own));
    expect(rejected.status).toBe(200);
    expect(rejected.body.images).toEqual([]);
    expect((await call(stack, "GET", `/campaigns/${own.body.campaign_id}/rejected`, key(other))).status).toBe(404);
  });
});
