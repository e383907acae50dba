// Every page, light and dark: an accessibility check (axe-core) that must find no serious or
// critical violation, and a full-page screenshot of each, kept with the test results.
import { expect, test } from "@playwright/test";
import { check, open, signedIn, tag, unique } from "./support";

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
  await expect(page.getByText("Added 1 number.")).toBeVisible();

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
    ["imports", "/imports"],
    ["review", "/review"],
    ["audit", "/audit"],
    ["users", "/admin/users"],
    ["tokens", "/admin/tokens"],
    ["webhooks", "/admin/webhooks"],
    ["settings", "/admin/settings"],
    ["password", "/password"],
    ["not-found", "/no-such-page"],
  ];
  for (const [name, path] of pages) {
    await open(page, path, info);
    await check(page, info, name);
  }
});
