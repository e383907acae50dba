// Tags and notes, with JavaScript on and off: a number's tags and note saved on its page, the
// numbers list filtered by a tag, a bulk action adding a tag to ticked numbers, an account's
// tags filtering the accounts list; and a service's test numbers marked on the review page.
// Each page is checked with axe in light and dark.
import { expect, test, type Page, type TestInfo } from "@playwright/test";
import { check, open, ready, signedIn, tag, unique, usesJavaScript } from "./support";

/// Numbers no other project uses: +44 20 7946 8 then the project's digit and a serial.
function numberFor(info: TestInfo, serial: number): string {
  return `+44207948${usesJavaScript(info) ? "1" : "2"}${String(serial).padStart(3, "0")}`;
}

/// Waits for a bulk job's page to show `text` (without JavaScript, following its refresh link).
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

test("tags and a note on a number and an account, the tag filter and a bulk tag", async ({ page }, info) => {
  await signedIn(page, info, unique(info, "labeller"), "AdminUser");
  const account = `${tag(info)}-labels`;
  const label = `${tag(info)}-vip`;
  await open(page, "/accounts/new", info);
  await page.getByLabel("Account name").fill(account);
  await page.getByLabel("Enable Zoom Phone Cloud Peering").check();
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(`Account ${account}`);

  // The account's own tags, then the list filtered by one.
  await ready(page, info);
  await page.getByLabel("Tags", { exact: true }).fill(`${label}; wholesale`);
  await page.getByLabel("Note", { exact: true }).fill("Signed in December");
  await page.getByRole("button", { name: "Save tags and note" }).click();
  await expect(page.getByText("Tags and note saved.")).toBeVisible();
  await expect(page.getByRole("list", { name: /^Tags of this/ }).getByRole("link", { name: "wholesale" })).toBeVisible();
  await open(page, `/accounts?tag=${encodeURIComponent(label)}`, info);
  await expect(page.getByRole("link", { name: account, exact: true })).toBeVisible();

  const [a, b] = [1, 2].map((n) => numberFor(info, n));
  await open(page, `/numbers/new?account=${account}`, info);
  await page.getByLabel("Telephone numbers").fill(`${a}\n${b}`);
  await page.getByLabel("Zoom Phone Cloud Peering", { exact: true }).check();
  await page.getByRole("button", { name: "Add numbers" }).click();
  await expect(page.getByText("Added 2 numbers.")).toBeVisible();

  // One number's tags and note on its page; a bad tag is refused by its rule and nothing changes.
  await open(page, `/numbers/${encodeURIComponent(a)}`, info);
  await ready(page, info);
  await page.getByLabel("Tags", { exact: true }).fill(`${label}; site: Leeds`);
  await page.getByLabel("Note", { exact: true }).fill("Porting in from the old carrier\nref 42");
  await page.getByRole("button", { name: "Save tags and note" }).click();
  await expect(page.getByText("Tags and note saved.")).toBeVisible();
  const tags = page.getByRole("list", { name: /^Tags of this/ });
  await expect(tags.getByRole("link", { name: "site: Leeds" })).toBeVisible();
  await expect(page.locator("p.note")).toContainText("ref 42");
  await check(page, info, "number-labels");
  await page.getByLabel("Tags", { exact: true }).fill("x".repeat(51));
  await page.getByRole("button", { name: "Save tags and note" }).click();
  await expect(page.getByText(/Tags: a tag has 1–50 characters; this one has 51/).first()).toBeVisible();
  await open(page, `/numbers/${encodeURIComponent(a)}`, info);
  await expect(page.getByRole("list", { name: /^Tags of this/ }).getByRole("link", { name: label })).toBeVisible();

  // The list by tag: only the tagged number, its tags shown.
  await open(page, `/numbers?tag=${encodeURIComponent(label)}`, info);
  await expect(page.getByRole("row", { name: new RegExp(`\\${a}.*site: Leeds`) })).toBeVisible();
  await expect(page.getByRole("link", { name: b })).toHaveCount(0);

  // A bulk action tags the ticked number; the list by that tag then shows it.
  await open(page, `/numbers?account=${account}`, info);
  await page.getByLabel(`Select ${b}`).check();
  await page.getByLabel("What to do").selectOption("tag");
  await page.getByLabel("Tags (to add or remove), separated by ; or ,").fill(label);
  await page.getByRole("button", { name: "Apply to the numbers" }).click();
  await waitForResult(page, info, "1 number: 1 changed, 0 unchanged; 0 refused (left as they were).");
  await open(page, `/numbers?tag=${encodeURIComponent(label)}`, info);
  await expect(page.getByRole("link", { name: a })).toBeVisible();
  await expect(page.getByRole("link", { name: b })).toBeVisible();
  await check(page, info, "numbers-by-tag");
});

test("test numbers of a service are marked on the review page, each refusal named", async ({ page }, info) => {
  await signedIn(page, info, unique(info, "launcher"), "AdminUser");
  const account = `${tag(info)}-launch`;
  await open(page, "/accounts/new", info);
  await page.getByLabel("Account name").fill(account);
  await page.getByLabel("Enable Zoom Phone Cloud Peering").check();
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(`Account ${account}`);
  const [a] = [9].map((n) => numberFor(info, n));
  await open(page, `/numbers/new?account=${account}`, info);
  await page.getByLabel("Telephone numbers").fill(a);
  await page.getByLabel("Zoom Phone Cloud Peering", { exact: true }).check();
  await page.getByRole("button", { name: "Add numbers" }).click();
  await expect(page.getByText("Added 1 number.")).toBeVisible();

  await open(page, "/review", info);
  await ready(page, info);
  await page.getByLabel("Service", { exact: true }).selectOption("teamsDirectRouting");
  await page.getByLabel("Numbers (up to 20, one a line)").fill(a);
  await page.getByRole("button", { name: "Apply to the test numbers" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Marked as test numbers" })).toContainText(
    `0 numbers done, 0 numbers unchanged, 1 number refused.`,
  );
  await expect(page.getByText(`${a} ServiceNotOnNumber`)).toBeVisible();
  await ready(page, info);
  await page.getByLabel("Service", { exact: true }).selectOption("zoomPhoneCloudPeering");
  await page.getByLabel("Numbers (up to 20, one a line)").fill(a);
  await page.getByRole("button", { name: "Apply to the test numbers" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Marked as test numbers" })).toContainText("1 number done");
  const tested = page.getByRole("table", { name: "Test numbers per service" });
  await expect(tested.getByRole("row", { name: /Zoom Phone Cloud Peering/ })).toContainText(`${a} — ready`);
  await check(page, info, "verification");
});
