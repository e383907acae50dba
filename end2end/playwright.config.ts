// Browser tests: the server the README's run command builds, driven by Debian's Chromium,
// once with JavaScript (pages hydrate from the wasm bundle) and once without (plain HTML).
import { defineConfig } from "@playwright/test";

const port = Number(process.env.NUMBAT_E2E_PORT ?? 3107);
const baseURL = `http://127.0.0.1:${port}`;

export default defineConfig({
  testDir: "./tests",
  outputDir: "./test-results",
  fullyParallel: true,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL,
    screenshot: "on",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  // Fails the run when the server answered any request with a 500.
  globalTeardown: "./global-teardown.js",
  projects: [
    { name: "hydrated", use: { browserName: "chromium", javaScriptEnabled: true } },
    { name: "no-javascript", use: { browserName: "chromium", javaScriptEnabled: false } },
  ],
  webServer: {
    // A fresh SQLite database for every run, with the demo consents and civic addresses; the
    // bundle the build script left in target/site.
    command:
      `rm -rf ../target/e2e && ../target/debug/numbat demo-data --database-url sqlite://../target/e2e/numbat.db && ` +
      `exec ../target/debug/numbat serve --listen 127.0.0.1:${port} ` +
      `--database-url sqlite://../target/e2e/numbat.db --site-root ../target/site ` +
      `2> ../target/e2e/server.log`,
    url: `${baseURL}/readyz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "ignore",
    stderr: "pipe",
    // Warnings and errors only: each test's sign-in would otherwise log a line. The log goes to
    // target/e2e/server.log, which the global teardown reads for server errors.
    // Private receivers allowed, as in a lab: the webhook tests' receiver is on loopback.
    env: { RUST_LOG: "warn", NUMBAT_WEBHOOKS_ALLOW_PRIVATE: "true" },
  },
});
