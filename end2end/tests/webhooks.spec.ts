// Webhooks in the portal, with JavaScript on and off: an admin makes a subscription to a
// receiver on a loopback port (the test server allows private receivers, as a lab would), sees
// its secret once, changes an account, sees the delivery in the log, and delivers that event
// again from its row; then the page is checked with axe in light and dark.
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { expect, test } from "@playwright/test";
import { check, open, ready, signedIn, unique } from "./support";

type Got = { id: string; body: string };

/// A receiver answering 204 to every delivery, keeping each one's webhook-id and body.
async function receiver(): Promise<{ url: string; got: Got[]; close: () => void }> {
  const got: Got[] = [];
  const server = createServer((request: IncomingMessage, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      got.push({ id: String(request.headers["webhook-id"] ?? ""), body });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hook`, got, close: () => server.close() };
}

test("an admin makes a webhook, sees its deliveries and delivers one again", async ({ page }, info) => {
  const hook = await receiver();
  try {
    const admin = unique(info, "hooker");
    await signedIn(page, info, admin, "AdminUser");
    await open(page, "/admin/webhooks", info);
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("Webhooks");
    await page.getByLabel("Receiver's address (https)").fill(hook.url);
    await page.getByLabel(/Event or resource types/).fill("account.create");
    await page.getByRole("button", { name: "Make webhook" }).click();
    await expect(page.getByRole("heading", { level: 1 })).toHaveText(/^Webhook \d+$/);
    await expect(page.getByTestId("secret")).toHaveText(/^whsec_/);
    await expect(page.getByText("Nothing delivered yet.")).toBeVisible();
    const address = page.url();

    // A change: the receiver hears of it, and the log shows the attempt.
    const name = unique(info, "hooked");
    await open(page, "/accounts/new", info);
    await page.getByLabel("Account name").fill(name);
    await page.getByLabel("Enable Zoom Phone Cloud Peering").check();
    await page.getByRole("button", { name: "Create account" }).click();
    await expect(page.getByRole("heading", { level: 1 })).toHaveText(`Account ${name}`);
    await expect
      .poll(() => hook.got.filter((g) => g.body.includes(`"resourceKey":"${name}"`)).length, { timeout: 20_000 })
      .toBe(1);
    const event = hook.got.find((g) => g.body.includes(`"resourceKey":"${name}"`))!.id;
    await expect
      .poll(
        async () => {
          await open(page, address, info);
          return page.getByTestId("deliveries").getByRole("row", { name: new RegExp(`${event.replace(".", "\\.")}`) }).count();
        },
        { timeout: 20_000 },
      )
      .toBeGreaterThan(0);
    const row = page.getByTestId("deliveries").getByRole("row").filter({ hasText: event }).first();
    await expect(row).toContainText("account.create");
    await expect(row).toContainText("delivered");
    await expect(page.getByTestId("secret")).toHaveCount(0);

    // Delivered again, out of turn, under its own id; the log says who asked.
    await ready(page, info);
    await row.getByRole("button", { name: `Deliver again: event ${event}` }).click();
    await expect(page.getByText(`asked by ${admin}`)).toBeVisible();
    expect(hook.got.filter((g) => g.id === event).length).toBe(2);
    await check(page, info, "webhook");
  } finally {
    hook.close();
  }
});
