// Billable users, with JavaScript on and off: the server counts the day when it starts, so this
// month shows a count; the previous month, reached by its link, says it has none; the month
// form shows a chosen month. Checked with axe in light and dark.
import { expect, test } from "@playwright/test";
import { check, open, signedIn, unique } from "./support";

test("billable users of this month and the month before", async ({ page }, info) => {
  await signedIn(page, info, unique(info, "biller"), "ReadUser");
  await open(page, "/review", info);
  await page.getByRole("link", { name: "Billable users" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Billable users");
  const month = new Date().toISOString().slice(0, 7);
  await expect(page.getByRole("heading", { name: `Month ${month}` })).toBeVisible();
  await expect(page.getByText("Included in the service fee")).toBeVisible();
  await expect(page.getByRole("table", { name: "Per service" })).toBeVisible();
  await expect(page.getByRole("link", { name: "Download this month as CSV" })).toHaveAttribute("href", `/billing/export.csv?month=${month}`);
  await check(page, info, "billing");

  await page.getByRole("link", { name: /^← / }).click();
  await expect(page.getByText("No day of this month has been counted")).toBeVisible();

  await page.getByLabel("Month", { exact: true }).fill(month);
  await page.getByRole("button", { name: "Show" }).click();
  await expect(page.getByRole("heading", { name: `Month ${month}` })).toBeVisible();
});
