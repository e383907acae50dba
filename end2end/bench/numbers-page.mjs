// The numbers page as an operator's browser gets it: bytes transferred and time until the page
// is interactive (the bundle has hydrated it), with the CPU slowed four times (DevTools' CPU
// throttling). Run by scripts/bench-browser.sh, which starts the server; prints figures only.
//
//   node bench/numbers-page.mjs <base URL> <user> <password> [runs]
import { chromium } from "@playwright/test";

const [base, user, password, runsArg] = process.argv.slice(2);
if (!base || !user || !password) {
  console.error("usage: node bench/numbers-page.mjs <base URL> <user> <password> [runs]");
  process.exit(2);
}
const runs = Math.max(1, Number(runsArg ?? 7));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});

/// A signed-in browser context, its cache empty.
async function signedIn() {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${base}/sign-in`);
  await page.getByLabel("User name").fill(user);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((url) => !url.pathname.startsWith("/sign-in"));
  await page.waitForLoadState("load");
  return { context, page };
}

/// Loads `/numbers` in `page`, throttled: what came over the wire (compressed bytes, by file
/// kind) and how long after navigation began the page was hydrated.
async function load(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Emulation.setCPUThrottlingRate", { rate: 4 });
  const urls = new Map();
  const bytes = { wasm: 0, js: 0, other: 0 };
  cdp.on("Network.responseReceived", (e) => urls.set(e.requestId, e.response.url));
  cdp.on("Network.loadingFinished", (e) => {
    const url = urls.get(e.requestId) ?? "";
    const kind = url.endsWith(".wasm") ? "wasm" : url.endsWith(".js") ? "js" : "other";
    bytes[kind] += e.encodedDataLength;
  });
  await page.goto(`${base}/numbers`);
  await page.waitForFunction(() => window.__numbatHydratedAt !== undefined, null, { timeout: 120_000 });
  const interactive = await page.evaluate(() => window.__numbatHydratedAt);
  await page.waitForLoadState("networkidle");
  await cdp.send("Emulation.setCPUThrottlingRate", { rate: 1 });
  await cdp.detach();
  return { bytes, interactive };
}

// Notes the moment the bundle marks the page hydrated, in the page's own clock (milliseconds
// since its navigation began).
const marker = () => {
  new MutationObserver((_, observer) => {
    if (document.documentElement.dataset.hydrated === "true") {
      window.__numbatHydratedAt = performance.now();
      observer.disconnect();
    }
  }).observe(document, { attributes: true, subtree: true, attributeFilter: ["data-hydrated"] });
};

const cold = [];
const warm = [];
for (let i = 0; i < runs; i++) {
  const { context, page } = await signedIn();
  await context.addInitScript(marker);
  // The sign-in already fetched the bundle: a new page in a context with a cleared cache is a
  // first visit; the visit after it, a return.
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.clearBrowserCache");
  await cdp.detach();
  cold.push(await load(page));
  warm.push(await load(page));
  await context.close();
}
await browser.close();

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};
const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
for (const [label, samples] of [["first visit", cold], ["return visit", warm]]) {
  const total = samples.map((s) => s.bytes.wasm + s.bytes.js + s.bytes.other);
  const wasm = samples.map((s) => s.bytes.wasm);
  const times = samples.map((s) => s.interactive);
  console.log(
    `numbers page, ${label} (CPU 4x slower, ${runs} runs): transferred ${kb(median(total))} ` +
      `(wasm ${kb(median(wasm))}); interactive after ${median(times).toFixed(0)} ms median ` +
      `(${Math.min(...times).toFixed(0)}–${Math.max(...times).toFixed(0)} ms)`,
  );
}
