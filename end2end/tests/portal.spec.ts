// The portal's workflows as people walk them, with JavaScript on and off: an operator sets up
// the deployment, creates an account for each service, adds numbers with custom headers, is
// refused a header on Teams Phone Mobile, edits, deletes and signs out; a ReadUser can look
// but not change, and the server refuses what they post by hand.
import { expect, test, type Page, type TestInfo } from "@playwright/test";
import { open, ready, signedIn, tag, unique, usesJavaScript } from "./support";

/// Numbers no other project uses: +44 20 7946 then the project's digit and a serial.
function numberFor(info: TestInfo, serial: number): string {
  return `+4420794${usesJavaScript(info) ? "61" : "62"}${String(serial).padStart(3, "0")}`;
}

async function createAccount(page: Page, info: TestInfo, name: string, fill: () => Promise<void>) {
  await open(page, "/accounts/new", info);
  await page.getByLabel("Account name").fill(name);
  await fill();
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(`Account ${name}`);
  await ready(page, info);
}

test("an operator provisions every service, edits, deletes and signs out", async ({ page }, info) => {
  const js = usesJavaScript(info);
  const t = tag(info);
  await signedIn(page, info, unique(info, "operator"), "AdminUser");

  // The deployment's header name and Direct Routing domain.
  await open(page, "/admin/settings", info);
  await page.getByLabel("Custom SIP header name").fill("X-Customer-Id");
  await page.getByLabel("Direct Routing base domain").fill("voice.example.net");
  await page.getByRole("button", { name: "Save settings" }).click();
  await expect(page.getByText("Saved.")).toBeVisible();

  // With JavaScript, fields check themselves as you type.
  if (js) {
    await open(page, "/accounts/new", info);
    await page.getByLabel("Account name").fill("not a valid name!");
    await expect(page.locator("#field-form-name--error")).toContainText("Account name must be");
    await page.getByLabel("Subdomain").fill("contoso");
    await expect(page.locator("#fqdns")).toContainText("contoso.1r1.voice.example.net: 29 of 48 characters");
  }

  // One account for each service.
  const dr = `${t}-dr`;
  await createAccount(page, info, dr, async () => {
    await page.getByLabel("Teams tenant ID").fill("0b6a2f1c-3d4e-4f50-8a9b-1c2d3e4f5a6b");
    await page.getByLabel("Enable Microsoft Teams Direct Routing").check();
    await page.getByLabel("Subdomain").fill(js ? "drjs" : "drnojs");
    await page.getByLabel("Region 1 token").fill("token-region-one");
    await page.getByLabel("Region 2 token").fill("token-region-two");
  });
  await expect(page.getByText(`${js ? "drjs" : "drnojs"}.1r1.voice.example.net`)).toBeVisible();
  await createAccount(page, info, `${t}-oc`, async () => {
    await page.getByLabel("Teams tenant ID").fill("6d5a1c3e-0f6b-4a8e-9a43-2d0f3a1b7c55");
    await page.getByLabel("Enable Operator Connect").check();
  });
  const tpm = `${t}-tpm`;
  await createAccount(page, info, tpm, async () => {
    await page.getByLabel("Teams tenant ID").fill("1c7b3a2d-4e5f-4061-9b0c-2d3e4f5a6b7c");
    await page.getByLabel("Enable Teams Phone Mobile").check();
  });
  await createAccount(page, info, `${t}-zoom`, async () => {
    await page.getByLabel("Enable Zoom Phone Cloud Peering").check();
  });
  await createAccount(page, info, `${t}-aocp`, async () => {
    await page.getByLabel("Enable Azure Operator Call Protection").check();
  });

  // Numbers, pasted two at once, with a custom header value.
  const [first, second] = [numberFor(info, 1), numberFor(info, 2)];
  await open(page, `/numbers/new?account=${dr}`, info);
  await expect(page.getByLabel("Custom SIP header value (sent in the X-Customer-Id header)")).toBeVisible();
  await page.getByLabel("Telephone numbers").fill(`${first}\n${second}`);
  await page.getByLabel("Microsoft Teams Direct Routing").check();
  await page.getByLabel(/Custom SIP header value/).fill("site-7");
  await page.getByRole("button", { name: "Add numbers" }).click();
  await expect(page.getByText("Added 2 numbers.")).toBeVisible();
  await expect(page.getByRole("row", { name: new RegExp(`\\${first}.*site-7`) })).toBeVisible();
  await ready(page, info);

  // A custom header on a Teams Phone Mobile number: unavailable, and refused.
  const mobile = `+4477009${js ? "61" : "62"}001`;
  await open(page, `/numbers/new?account=${tpm}`, info);
  await page.getByLabel("Telephone numbers").fill(mobile);
  if (js) {
    // The Teams settings appear with the Teams service.
    await expect(page.getByLabel("Usage", { exact: true })).toBeHidden();
  }
  if (!js) await page.getByLabel(/Custom SIP header value/).fill("not-allowed");
  await page.getByLabel("Teams Phone Mobile", { exact: true }).check();
  await page.getByLabel("Usage", { exact: true }).selectOption("CallingUserAssignment");
  // The account's plans offer their capabilities as boxes; Mobile is typed as another.
  await expect(page.getByLabel("InboundCalling", { exact: true })).not.toBeChecked();
  await page.getByLabel("Other capabilities").fill("Mobile");
  await page.getByLabel("Allow the customer to update the address").check();
  if (js) {
    await expect(page.getByLabel(/Custom SIP header value/)).toBeDisabled();
    await expect(page.getByText("Unavailable: numbers with Teams Phone Mobile")).toBeVisible();
  } else {
    await page.getByRole("button", { name: "Add numbers" }).click();
    await expect(page.getByRole("alert")).toContainText("customSipHeader");
    await expect(page.getByRole("alert")).toContainText("Teams Phone Mobile");
  }

  // A refused form shows each error beside the field it is about, as well as above the form.
  await open(page, `/numbers/new?account=${tpm}`, info);
  await page.getByLabel("Telephone numbers").fill(mobile);
  await page.getByLabel("Teams Phone Mobile", { exact: true }).check();
  await page.getByLabel("Usage", { exact: true }).selectOption("CallingUserAssignment");
  await page.getByLabel("Additional usages").fill("Bogus");
  await page.getByRole("button", { name: "Add numbers" }).click();
  await expect(page.locator("#error-additional_usages")).toContainText("Bogus");
  await expect(page.getByRole("alert")).toContainText("Additional usages: Bogus");

  // Edit a number's header.
  await open(page, `/numbers/${encodeURIComponent(first)}`, info);
  await page.getByLabel(/Custom SIP header value/).fill("site-8");
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByText("Saved.")).toBeVisible();
  await open(page, `/numbers?q=${encodeURIComponent(first)}`, info);
  await expect(page.getByRole("row", { name: new RegExp(`\\${first}.*site-8`) })).toBeVisible();

  // Delete a number, with its confirmation.
  await open(page, `/numbers/${encodeURIComponent(second)}`, info);
  await page.getByLabel(`Yes, delete ${second}`).check();
  await page.getByRole("button", { name: "Delete number" }).click();
  await expect(page.getByText(`Deleted ${second}.`)).toBeVisible();

  // Delete the account with its remaining number: the confirmation says how many.
  await open(page, `/accounts/${dr}`, info);
  await page.getByLabel("Also delete its 1 number (").check();
  await page.getByLabel(`Yes, delete account ${dr} (1 number stops being routed`).check();
  await page.getByRole("button", { name: "Delete account" }).click();
  await expect(page.getByText(`Account ${dr} was deleted.`)).toBeVisible();

  // Sign out: the pages are closed again.
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByText("You are signed out.")).toBeVisible();
  await page.goto("/numbers");
  await expect(page).toHaveURL(/\/sign-in\?next=/);
});

test("a ReadUser can look but not change, and hand-made posts are refused", async ({ page, baseURL }, info) => {
  const t = tag(info);
  await signedIn(page, info, unique(info, "reader"), "ReadUser");
  await open(page, "/accounts", info);
  await expect(page.getByRole("link", { name: "Create account" })).toHaveCount(0);
  await open(page, "/accounts/fabrikam", info);
  await expect(page.getByRole("heading", { name: "Civic addresses" })).toBeVisible();
  await expect(page.getByText("FAB-HQ-4")).toBeVisible();
  await expect(page.getByRole("link", { name: "Edit account" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Delete account" })).toHaveCount(0);
  await open(page, "/numbers/new", info);
  await expect(page.getByText("Your role lets you view numbers, not change them.")).toBeVisible();
  await expect(page.getByLabel("Telephone numbers")).toBeDisabled();
  await expect(page.getByRole("button", { name: "Add numbers" })).toHaveCount(0);

  // The form a WriteUser would post, sent by hand with this reader's session.
  const answer = await page.request.post("/api/accounts/save", {
    form: { "form[name]": `${t}-sneaky`, "form[zoom]": "on" },
    headers: { accept: "text/html", origin: baseURL!, referer: `${baseURL}/accounts/new` },
    maxRedirects: 0,
  });
  expect(answer.status()).toBe(302);
  expect(answer.headers()["location"]).toContain("__err=");
  await open(page, answer.headers()["location"].replace(baseURL!, ""), info);
  await expect(page.getByRole("alert")).toContainText("Your role does not allow this");
  await open(page, `/accounts?q=${t}-sneaky`, info);
  await expect(page.getByText("No accounts match.")).toBeVisible();

  // A post from another site is refused before any of that.
  const forged = await page.request.post("/api/accounts/save", {
    form: { "form[name]": `${t}-forged`, "form[zoom]": "on" },
    headers: { origin: "http://evil.example" },
    maxRedirects: 0,
  });
  expect(forged.status()).toBe(403);
});

test("requests for information: filter, update the relationship, create an account", async ({ page }, info) => {
  // Each project works on its own consent: they run at the same time on one server.
  const [company, search, tenant] = usesJavaScript(info)
    ? ["Northwind Traders", "northwind", "c4d5e6f7-0a1b-4c2d-9e3f-5a6b7c8d9e0f"]
    : ["Contoso Pharmaceuticals", "contoso", "7a9c0e2d-1b3f-4c5d-8e6f-a0b1c2d3e4f5"];
  await signedIn(page, info, unique(info, "consents"), "WriteUser");
  await open(page, `/requests-for-information?q=${search}`, info);
  await expect(page.getByRole("row")).toHaveCount(2);
  await page.getByRole("link", { name: tenant }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(`Request for information: ${company}`);
  await ready(page, info);
  await page.getByLabel("New status").selectOption("ContractTerminated");
  await page.getByLabel(/Reason or ticket/).fill("");
  await page.getByRole("button", { name: "Update status" }).click();
  await expect(page.getByRole("alert")).toContainText("reason");
  await open(page, `/requests-for-information/${tenant}`, info);
  await page.getByLabel("New status").selectOption("AgreementSigned");
  await page.getByLabel(/Reason or ticket/).fill(`ticket ${tag(info)}`);
  await page.getByRole("button", { name: "Update status" }).click();
  await expect(page.getByText("Relationship updated.")).toBeVisible();
  await page.getByRole("link", { name: "Create account from this request" }).click();
  await expect(page.getByLabel("Teams tenant ID")).toHaveValue(tenant);
  await expect(page.getByLabel("Enable Operator Connect")).toBeChecked();
});
