// After every browser test: the run fails if the server answered any request with a 500.
// The server logs each 5xx as "answered a server error" with its method, path and status.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export default async function globalTeardown() {
  const log = join(__dirname, "..", "target", "e2e", "server.log");
  if (!existsSync(log)) {
    throw new Error(`the server's log ${log} is missing: cannot check it for server errors`);
  }
  const failures = readFileSync(log, "utf8")
    .split("\n")
    .filter((line) => line.includes("answered a server error") && /status=500\b/.test(line));
  if (failures.length > 0) {
    throw new Error(`the server answered ${failures.length} request(s) with a 500:\n${failures.join("\n")}`);
  }
}
