// The inventory page, with JavaScript on and off: a range added, reserved for an account, one
// number assigned, released into quarantine and its quarantine ended, each outcome shown on the
// page with a link to its job; then the page checked with axe in light and dark.
import { expect, test } from "@playwright/test";
import { check, open, ready, signedIn, tag, unique, usesJavaScript } from "./support";

test("a range moves through the inventory's lifecycle", async ({ page }, info) => {
  const js = usesJavaScript(info);
  await signedIn(page, info, unique(info, "stocker"), "AdminUser");
  const name = `${tag(info)}-stock`;
  await open(page, "/accounts/new", info);
  await page.getByLabel("Account name").fill(name);
  await page.getByLabel("Enable Zoom Phone Cloud Peering").check();
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(`Account ${name}`);

  // Each project its own range: both run against one server.
  const base = js ? "+44207222" : "+44207333";
  const first = `${base}0000`;
  const last = `${base}0004`;
  await open(page, "/inventory", info);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Inventory");
  await ready(page, info);
  const act = async (action: string, fields: { from?: string; to?: string; numbers?: string; account?: string }) => {
    await page.getByLabel("Action").selectOption(action);
    await page.getByLabel("From", { exact: true }).fill(fields.from ?? "");
    await page.getByLabel("To", { exact: true }).fill(fields.to ?? "");
    await page.getByLabel("Or these numbers, one a line").fill(fields.numbers ?? "");
    await page.getByLabel("Account (reserve, assign, release)").fill(fields.account ?? "");
    if (action === "assign") {
      await page.getByLabel("Service (assign)").selectOption("zoomPhoneCloudPeering");
    }
    await page.getByRole("button", { name: "Apply" }).click();
  };
  const outcome = page.getByRole("status");

  await act("add", { from: first, to: last });
  await expect(outcome).toContainText("add: 5 numbers done, 0 numbers unchanged, 0 numbers refused.");
  await ready(page, info);
  await act("reserve", { from: first, to: last, account: name });
  await expect(outcome).toContainText("reserve: 5 numbers done");
  await ready(page, info);
  await act("assign", { numbers: first, account: name });
  await expect(outcome).toContainText("assign: 1 number done");
  await ready(page, info);
  await act("release", { numbers: first, account: name });
  await expect(outcome).toContainText("release: 1 number done");
  await ready(page, info);

  await open(page, `/inventory?state=quarantined&account=${name}`, info);
  const row = page.getByRole("row", { name: new RegExp(`\\${first}`) });
  await expect(row).toContainText("Quarantined");
  await ready(page, info);
  await act("endQuarantine", { numbers: first });
  await expect(outcome).toContainText("endQuarantine: 1 number done");
  // Every action is a job, linked from its outcome; its page keeps the result.
  await outcome.getByRole("link", { name: /^Job \d+$/ }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(/^Inventory action \d+$/);
  await expect(page.getByText(`End the quarantine — ${first}`)).toBeVisible();
  await expect(page.getByText("1 number: 1 done, 0 unchanged; 0 refused")).toBeVisible();
  await open(page, `/inventory?prefix=${encodeURIComponent(base)}`, info);
  await expect(page.getByRole("row", { name: new RegExp(`\\${first}`) })).toContainText("Available");
  await expect(page.getByRole("row", { name: new RegExp(`\\${last}`) })).toContainText("Reserved");
  await check(page, info, "inventory");
});
