// Bulk work as an operator does it, with JavaScript on and off: importing a CSV (the check
// names each bad row, then the valid rows are applied), exporting the list, changing many
// numbers in one bulk action, and reading the audit trail's field-by-field changes.
import { readFileSync } from "node:fs";
import { expect, test, type Page, type TestInfo } from "@playwright/test";
import { check, open, ready, signedIn, tag, unique, usesJavaScript } from "./support";

/// Numbers no other project uses: +44 20 7946 then the project's digits and a serial.
function numberFor(info: TestInfo, serial: number): string {
  return `+4420794${usesJavaScript(info) ? "71" : "72"}${String(serial).padStart(3, "0")}`;
}

async function zoomAccount(page: Page, info: TestInfo, name: string) {
  await open(page, "/accounts/new", info);
  await page.getByLabel("Account name").fill(name);
  await page.getByLabel("Enable Zoom Phone Cloud Peering").check();
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(`Account ${name}`);
}

/// Waits for a job's page to show `text`: with JavaScript the page updates itself; without,
/// the person follows its refresh link until the job is done.
async function waitForResult(page: Page, info: TestInfo, text: string) {
  if (!usesJavaScript(info)) {
    for (let i = 0; i < 60 && (await page.getByRole("link", { name: "Refresh to see how far it is" }).count()) > 0; i++) {
      await page.waitForTimeout(250);
      await page.getByRole("link", { name: "Refresh to see how far it is" }).click();
    }
  }
  await expect(page.getByText(text)).toBeVisible({ timeout: 30_000 });
  await ready(page, info);
}

test("import: the check names each bad row, then the valid rows are applied", async ({ page }, info) => {
  await signedIn(page, info, unique(info, "importer"), "AdminUser");
  const account = `${tag(info)}-import`;
  await zoomAccount(page, info, account);
  const [a, b, c, d] = [1, 2, 3, 6].map((n) => numberFor(info, n));
  const csv = [
    "telephoneNumber,accountName,serviceDetails_zoomPhoneCloudPeering_enabled,configuration_customSipHeader",
    `${a},${account},true,site-1`,
    `${b},${account},true,`,
    `0207 946 0000,${account},true,`,
    `${d},no-such-account,true,`,
    `${c},${account},true,`,
  ].join("\n");

  await open(page, "/imports", info);
  await page.getByLabel("CSV file").setInputFiles({ name: "numbers.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
  await page.getByRole("button", { name: "Check the file" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(/^Import \d+$/);
  await waitForResult(page, info, "5 rows: 3 would be created, 0 changed, 0 unchanged; 2 invalid.");
  await expect(page.getByText("No number was changed.")).toBeVisible();
  await expect(page.getByRole("row", { name: /^4 .*telephoneNumber.*InvalidFormat/ })).toBeVisible();
  await expect(page.getByRole("row", { name: /^5 .*accountName.*AccountNotFound/ })).toBeVisible();
  await check(page, info, "import-check");

  const download = page.waitForEvent("download");
  await page.getByRole("link", { name: /Download the report/ }).click();
  const report = readFileSync(await (await download).path(), "utf8");
  expect(report).toContain("5,accountName,AccountNotFound,account no-such-account does not exist");

  await page.getByRole("button", { name: "Apply: write the 3 new and changed rows" }).click();
  await waitForResult(page, info, "5 rows: 3 created, 0 changed, 0 unchanged; 2 invalid rows skipped.");

  await open(page, `/numbers?account=${account}`, info);
  for (const n of [a, b, c]) {
    await expect(page.getByRole("link", { name: n })).toBeVisible();
  }
  await expect(page.getByRole("row", { name: new RegExp(`\\${a}.*site-1`) })).toBeVisible();
});

test("export, a bulk action, and the audit trail's changes", async ({ page }, info) => {
  const user = unique(info, "bulk");
  await signedIn(page, info, user, "AdminUser");
  const account = `${tag(info)}-bulk`;
  await zoomAccount(page, info, account);
  const [a, b] = [4, 5].map((n) => numberFor(info, n));
  await open(page, `/numbers/new?account=${account}`, info);
  await page.getByLabel("Telephone numbers").fill(`${a}\n${b}`);
  await page.getByLabel("Zoom Phone Cloud Peering", { exact: true }).check();
  await page.getByRole("button", { name: "Add numbers" }).click();
  await expect(page.getByText("Added 2 numbers.")).toBeVisible();

  await open(page, `/numbers?account=${account}`, info);
  const download = page.waitForEvent("download");
  await page.getByRole("link", { name: "Export these numbers (CSV)" }).click();
  const exported = readFileSync(await (await download).path(), "utf8").trim().split("\n");
  expect(exported[0]).toMatch(/^telephoneNumber,accountName,/);
  expect(exported.slice(1).map((line) => line.split(",")[0])).toEqual([a, b]);

  await page.getByLabel(`Select ${a}`).check();
  await page.getByLabel("What to do").selectOption("setHeader");
  await page.getByLabel("Custom header value (to set)").fill("bulk-7");
  await page.getByRole("button", { name: "Apply to the numbers" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(/^Bulk action \d+$/);
  await waitForResult(page, info, "1 number: 1 changed, 0 unchanged; 0 refused (left as they were).");
  await check(page, info, "bulk-action");

  await open(page, `/numbers?account=${account}`, info);
  await expect(page.getByRole("row", { name: new RegExp(`\\${a}.*bulk-7`) })).toBeVisible();
  await expect(page.getByRole("row", { name: new RegExp(`\\${b}`) })).not.toContainText("bulk-7");

  await open(page, `/audit?key=${encodeURIComponent(a)}`, info);
  const change = page.getByRole("row", { name: new RegExp(`${user}.*replace number`) });
  await expect(change).toBeVisible();
  await expect(change.locator("ins")).toHaveText("bulk-7");
  await page.getByLabel("Name or number (exact)").fill("");
  await page.getByLabel("Who").fill(user);
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page).toHaveURL(new RegExp(`actor=${user}`));
  await expect(page.getByRole("row", { name: new RegExp(`create number.*\\${b}`) })).toBeVisible();

  await open(page, `/numbers/${encodeURIComponent(a)}`, info);
  await expect(page.getByRole("heading", { name: "History" })).toBeVisible();
  await expect(page.locator("section", { has: page.getByRole("heading", { name: "History" }) }).locator("ins").first()).toHaveText("bulk-7");
});
