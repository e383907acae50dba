// After every browser test: the run fails if the server answered any request with a 500.
// The server logs each 5xx as "answered a server error" with its method, path and status.
const { existsSync, readFileSync } = require("node:fs");
const { join } = require("node:path");

function serverErrors(text) {
  return text
    .split("\n")
    .map((line) => line.replace(/\x1b\[[0-9;]*m/g, ""))
    .filter((line) => line.includes("answered a server error") && /status=500\b/.test(line));
}

async function globalTeardown() {
  const log = join(__dirname, "..", "target", "e2e", "server.log");
  if (!existsSync(log)) {
    throw new Error(`the server's log ${log} is missing: cannot check it for server errors`);
  }
  const failures = serverErrors(readFileSync(log, "utf8"));
  if (failures.length > 0) {
    throw new Error(`the server answered ${failures.length} request(s) with a 500:\n${failures.join("\n")}`);
  }
}

module.exports = globalTeardown;
module.exports.serverErrors = serverErrors;
