// An emergency location change, with JavaScript on and off: an Operator Connect number of the
// demo's Fabrikam account gets another location of its tenant's civic address, chosen from a
// list; a location without its address is refused by its rule and changes nothing; the change is
// in the number's history. Checked with axe in light and dark.
import { expect, test } from "@playwright/test";
import { check, open, ready, signedIn, unique, usesJavaScript } from "./support";

test("an Operator Connect number's emergency location is chosen from its tenant's addresses", async ({ page }, info) => {
  await signedIn(page, info, unique(info, "locator"), "AdminUser");
  const number = `+44207948${usesJavaScript(info) ? "7" : "8"}001`;
  await open(page, "/numbers/new?account=fabrikam", info);
  await page.getByLabel("Telephone numbers").fill(number);
  await page.getByLabel("Operator Connect", { exact: true }).check();
  await page.getByLabel("Usage", { exact: true }).selectOption("CallingUserAssignment");
  // Capabilities and the civic address are chosen from the account's plans and addresses.
  await page.getByLabel("InboundCalling", { exact: true }).check();
  await page.getByLabel("Civic address", { exact: true }).selectOption("civic-fabrikam-hq");
  await page.getByRole("button", { name: "Add numbers" }).click();
  await expect(page.getByText("Added 1 number.")).toBeVisible();

  await open(page, `/numbers/${encodeURIComponent(number)}`, info);
  const panel = page.getByRole("region", { name: "Emergency location" });
  await expect(panel.getByText("1, Harbour Exchange Square, London, E14 9GE, GB (Fabrikam Ltd)").first()).toBeVisible();
  await expect(panel.locator("dd").nth(2)).toHaveText("none");

  // A location without its address is refused by name; nothing changes.
  await panel.getByLabel("Civic address", { exact: true }).selectOption("");
  await panel.getByLabel("Location", { exact: true }).selectOption("loc-fabrikam-hq-4");
  await panel.getByLabel("The enterprise may update the address in Teams").check();
  await panel.getByRole("button", { name: "Save emergency location" }).click();
  await expect(page.getByText("Location: needs civicAddressId").first()).toBeVisible();
  await open(page, `/numbers/${encodeURIComponent(number)}`, info);
  await expect(panel.locator("dd").nth(2)).toHaveText("none");

  // The fourth floor, chosen from the tenant's locations.
  await panel.getByLabel("Civic address", { exact: true }).selectOption("civic-fabrikam-hq");
  await panel.getByLabel("Location", { exact: true }).selectOption("loc-fabrikam-hq-4");
  await panel.getByRole("button", { name: "Save emergency location" }).click();
  await expect(page.getByText("Emergency location saved")).toBeVisible();
  await ready(page, info);
  await expect(panel.locator("dd").nth(2)).toHaveText("Floor 4, trading (loc-fabrikam-hq-4)");
  // The number's own form shows the new location too (and its new version, so it still saves).
  await expect(page.locator("#field-location")).toHaveValue("loc-fabrikam-hq-4");
  await check(page, info, "number-emergency");

  await open(page, `/numbers/${encodeURIComponent(number)}`, info);
  await expect(page.getByRole("region", { name: "History" }).getByText("loc-fabrikam-hq-4").first()).toBeVisible();
});
