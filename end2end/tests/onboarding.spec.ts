// A Direct Routing account's onboarding page, with JavaScript on and off: reached from the
// account's page, it names both customer domains with their TXT values and gives the customer's
// steps with PowerShell as selectable text; with JavaScript a Copy button sits beside it.
import { expect, test } from "@playwright/test";
import { check, open, ready, signedIn, tag, unique, usesJavaScript } from "./support";

test("a Direct Routing account's onboarding page gives its domains and steps", async ({ page }, info) => {
  const js = usesJavaScript(info);
  await signedIn(page, info, unique(info, "onboarder"), "AdminUser");
  // The same base domain the portal test sets: both run against one server.
  await open(page, "/admin/settings", info);
  await page.getByLabel("Direct Routing base domain").fill("voice.example.net");
  await page.getByRole("button", { name: "Save settings" }).click();
  await expect(page.getByText("Saved.")).toBeVisible();

  const name = `${tag(info)}-onboard`;
  const label = js ? "objs" : "obnojs";
  await open(page, "/accounts/new", info);
  await page.getByLabel("Account name").fill(name);
  await page.getByLabel("Enable Microsoft Teams Direct Routing").check();
  await page.getByLabel("Subdomain").fill(label);
  await page.getByLabel("Region 1 token").fill("MS=ms11111111");
  await page.getByLabel("Region 2 token").fill("MS=ms22222222");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(`Account ${name}`);
  await ready(page, info);

  await page.getByRole("link", { name: "Direct Routing onboarding: the customer's steps" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(`Direct Routing onboarding for ${name}`);
  await ready(page, info);
  const domains = page.getByRole("table");
  await expect(domains).toContainText(`${label}.1r1.voice.example.net`);
  await expect(domains).toContainText(`${label}.1r2.voice.example.net`);
  await expect(domains).toContainText("MS=ms22222222");
  await expect(page.getByTestId("subdomain-status")).toContainText("not provisioned");
  const route = page.getByTestId("powershell").first();
  await expect(route).toContainText(
    `-OnlinePstnGatewayList ${label}.1r1.voice.example.net, ${label}.1r2.voice.example.net`,
  );
  const copy = page.getByRole("button", { name: "Copy" });
  if (js) {
    await expect(copy).toHaveCount(2);
    await copy.first().click();
    await expect(page.getByRole("button", { name: "Copied" })).toHaveCount(1);
  } else {
    await expect(copy).toHaveCount(0);
  }
  await check(page, info, "onboarding");
});
