// What the browser tests share: portal users made with the real command line, signing in as a
// person does (including the first-sign-in password change), and waiting for hydration.
import { execFileSync } from "node:child_process";
import AxeBuilder from "@axe-core/playwright";
import { expect, type Page, type TestInfo } from "@playwright/test";

export const DATABASE = "sqlite://../target/e2e/numbat.db";
export const PASSWORD = "a-password-of-their-own";

export function usesJavaScript(info: TestInfo): boolean {
  return info.project.use.javaScriptEnabled !== false;
}

/// A prefix that keeps names from the two projects (run in parallel on one server) apart.
export function tag(info: TestInfo): string {
  return usesJavaScript(info) ? "js" : "nojs";
}

/// Adds a portal user with `numbat user add` and returns the one-time password it printed.
export function addUser(name: string, role: string): string {
  const out = execFileSync("../target/debug/numbat", ["user", "add", name, "--role", role, "--database-url", DATABASE], {
    encoding: "utf8",
  });
  return out.trim().split("\n").pop()!.trim();
}

/// With JavaScript, waits until the bundle has taken over the page.
export async function ready(page: Page, info: TestInfo) {
  if (usesJavaScript(info)) {
    await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
  }
}

export async function open(page: Page, path: string, info: TestInfo) {
  await page.goto(path);
  await ready(page, info);
}

/// A new user with `role`, signed in through the sign-in page, past the password change.
export async function signedIn(page: Page, info: TestInfo, name: string, role: string) {
  const oneTime = addUser(name, role);
  await page.goto("/sign-in");
  await page.getByLabel("User name").fill(name);
  await page.getByLabel("Password").fill(oneTime);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/password$/);
  await page.getByLabel("Current password").fill(oneTime);
  await page.getByLabel("New password", { exact: true }).fill(PASSWORD);
  await page.getByLabel("New password again").fill(PASSWORD);
  await page.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByText("Your password is changed.")).toBeVisible();
  await ready(page, info);
}

let serial = 0;
/// A name no other test in this run uses.
export function unique(info: TestInfo, stem: string): string {
  serial += 1;
  return `${tag(info)}-${stem}-${info.workerIndex}-${serial}`;
}

// axe runs inside the page, so it runs in the hydrated project; without JavaScript the server
// sends the same HTML, which that project screenshots.
export async function check(page: Page, info: TestInfo, name: string) {
  for (const scheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    if (usesJavaScript(info)) {
      const results = await new AxeBuilder({ page }).analyze();
      const serious = results.violations
        .filter((v) => v.impact === "serious" || v.impact === "critical")
        .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
      expect(serious, `${name} in ${scheme}`).toEqual([]);
    }
    await page.screenshot({ path: info.outputPath(`${tag(info)}-${name}-${scheme}.png`), fullPage: true });
  }
}

