// Every page, light and dark: an accessibility check (axe-core) that must find no serious or
// critical violation, and a full-page screenshot of each, kept with the test results.
import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page, type TestInfo } from "@playwright/test";
import { open, signedIn, tag, unique, usesJavaScript } from "./support";

// axe runs inside the page, so it runs in the hydrated project; without JavaScript the server
// sends the same HTML, which that project screenshots.
async function check(page: Page, info: TestInfo, name: string) {
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

test("every page passes the accessibility check, light and dark", async ({ page }, info) => {
  test.setTimeout(120_000);
  await open(page, "/sign-in", info);
  await check(page, info, "sign-in");
  await signedIn(page, info, unique(info, "auditor"), "AdminUser");

  // Something on every page: an account with a number.
  const account = `${tag(info)}-pages`;
  await open(page, "/accounts/new", info);
  await page.getByLabel("Account name").fill(account);
  await page.getByLabel("Enable Zoom Phone Cloud Peering").check();
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(`Account ${account}`);
  const number = tag(info) === "js" ? "+14155550161" : "+14155550162";
  await open(page, `/numbers/new?account=${account}`, info);
  await page.getByLabel("Telephone numbers").fill(number);
  await page.getByLabel("Zoom Phone Cloud Peering", { exact: true }).check();
  await page.getByRole("button", { name: "Add numbers" }).click();
  await expect(page.getByText("Added 1 numbers.")).toBeVisible();

  const pages: [string, string][] = [
    ["home", "/"],
    ["accounts", "/accounts"],
    ["account", "/accounts/fabrikam"],
    ["account-new", "/accounts/new"],
    ["account-edit", "/accounts/fabrikam/edit"],
    ["numbers", "/numbers"],
    ["number", `/numbers/${encodeURIComponent(number)}`],
    ["numbers-new", "/numbers/new"],
    ["requests-for-information", "/requests-for-information"],
    ["request-for-information", "/requests-for-information/3f2b8c1a-5d4e-4f6a-9b7c-0e1d2c3b4a59"],
    ["audit", "/audit"],
    ["users", "/admin/users"],
    ["tokens", "/admin/tokens"],
    ["settings", "/admin/settings"],
    ["password", "/password"],
    ["not-found", "/no-such-page"],
  ];
  for (const [name, path] of pages) {
    await open(page, path, info);
    await check(page, info, name);
  }
});
