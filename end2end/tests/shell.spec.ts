// The app shell as a person sees it: header, navigation, footer, colour schemes, and, with
// JavaScript, a bundle that hydrates the page.
import { expect, test } from "@playwright/test";
import { open, signedIn, unique } from "./support";

const sections = [
  { path: "/accounts", label: "Accounts" },
  { path: "/numbers", label: "Numbers" },
  { path: "/imports", label: "Imports" },
  { path: "/requests-for-information", label: "Requests for Information" },
  { path: "/review", label: "Review" },
  { path: "/audit", label: "Audit" },
];

// Every page needs a signed-in person: a ReadUser made for each test.
test.beforeEach(async ({ page }, info) => {
  await signedIn(page, info, unique(info, "viewer"), "ReadUser");
});

test("the shell shows the product, every section and the version", async ({ page }, info) => {
  await open(page, "/", info);
  await expect(page).toHaveTitle("Numbat");
  await expect(page.getByRole("link", { name: "Numbat" })).toBeVisible();
  const nav = page.getByRole("navigation", { name: "Main" });
  for (const { label } of sections) {
    await expect(nav.getByRole("link", { name: label, exact: true })).toBeVisible();
  }
  await expect(page.getByTestId("version")).toHaveText(/^\d+\.\d+\.\d+/);
  await page.screenshot({ path: info.outputPath("home.png"), fullPage: true });
});

test("the navigation reaches each section and marks where you are", async ({ page }, info) => {
  await open(page, "/", info);
  const nav = page.getByRole("navigation", { name: "Main" });
  for (const { path, label } of sections) {
    await nav.getByRole("link", { name: label, exact: true }).click();
    await expect(page).toHaveURL(path);
    await expect(page.getByRole("heading", { level: 1 })).toHaveText(label);
    await expect(page).toHaveTitle(`${label} · Numbat`);
    await expect(nav.getByRole("link", { name: label, exact: true })).toHaveAttribute("aria-current", "page");
  }
});

test("an unknown address shows a not-found page inside the shell", async ({ page }, info) => {
  const response = await page.goto("/no-such-page");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Page not found");
  await expect(page.getByRole("navigation", { name: "Main" })).toBeVisible();
});

test("the colours follow the system's light or dark preference", async ({ page }, info) => {
  await page.emulateMedia({ colorScheme: "light" });
  await open(page, "/numbers", info);
  const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  expect(await background()).toBe("rgb(251, 250, 248)");
  await page.emulateMedia({ colorScheme: "dark" });
  expect(await background()).toBe("rgb(21, 19, 18)");
  await page.screenshot({ path: info.outputPath("numbers-dark.png"), fullPage: true });
});

test("the theme switch cycles auto, light, dark and is remembered", async ({ page }, info) => {
  await page.emulateMedia({ colorScheme: "light" });
  await open(page, "/audit", info);
  const html = page.locator("html");
  const button = page.getByTestId("theme-switch");
  await expect(button).toHaveText("Theme: auto");

  await button.click();
  await expect(button).toHaveText("Theme: light");
  await expect(html).toHaveAttribute("data-theme", "light");
  await page.waitForURL("/audit");

  await button.click();
  await expect(button).toHaveText("Theme: dark");
  await expect(html).toHaveAttribute("data-theme", "dark");
  expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe("rgb(21, 19, 18)");

  // A fresh page load keeps the choice: the server renders it from the cookie.
  await open(page, "/accounts", info);
  await expect(html).toHaveAttribute("data-theme", "dark");
  await expect(button).toHaveText("Theme: dark");
  await page.screenshot({ path: info.outputPath("accounts-dark-chosen.png"), fullPage: true });
});

test.describe("with JavaScript", () => {
  test.skip(({ javaScriptEnabled }) => !javaScriptEnabled, "needs the browser bundle");

  test("the bundle loads without console errors", async ({ page }, info) => {
    const problems: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error" || message.type() === "warning") problems.push(message.text());
    });
    page.on("pageerror", (error) => problems.push(error.message));
    await open(page, "/", info);
    // The bundle the page named, by its hash, compressed at build time and kept for a year.
    const preload = await page.locator('link[rel="preload"][type="application/wasm"]').getAttribute("href");
    expect(preload).toMatch(/^\/pkg\/numbat-[0-9a-f]{16}_bg\.wasm$/);
    const wasm = await page.request.get(preload!, { headers: { "accept-encoding": "br, gzip" } });
    expect(wasm.status()).toBe(200);
    expect(wasm.headers()["content-encoding"]).toBe("br");
    expect(wasm.headers()["cache-control"]).toContain("immutable");
    for (const { label } of sections) {
      await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: label, exact: true }).click();
      await expect(page.getByRole("heading", { level: 1 })).toHaveText(label);
    }
    expect(problems).toEqual([]);
  });

  test("controls react without a page load", async ({ page }, info) => {
    await open(page, "/numbers", info);
    // Anything set on window disappears if the browser loads a new page.
    await page.evaluate(() => ((window as any).samePage = true));
    await page.getByTestId("theme-switch").click();
    await expect(page.locator("html")).toHaveAttribute("data-theme", "light");
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Audit" }).click();
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("Audit");
    expect(await page.evaluate(() => (window as any).samePage)).toBe(true);
  });
});

test.describe("without JavaScript", () => {
  test.skip(({ javaScriptEnabled }) => javaScriptEnabled, "checks the plain-HTML path");

  test("no script runs, and the page is complete HTML", async ({ page }) => {
    await page.goto("/numbers");
    await expect(page.locator("html")).not.toHaveAttribute("data-hydrated", "true");
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("Numbers");
  });
});
