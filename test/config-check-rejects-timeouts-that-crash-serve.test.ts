import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { stringify } from "yaml";
import { runCli, tempDir } from "./helpers.js";

// Values that are each valid but contradict each other in a way that makes `serve` crash
// (Node refuses a header deadline longer than the whole-request deadline) are refused by
// `config check` and by `serve` alike, by key, before anything starts.

test("request_timeout_ms shorter than headers_timeout_ms: exit 78 naming both keys", async (t) => {
  const dir = tempDir(t);
  const file = join(dir, "config.yml");
  writeFileSync(
    file,
    stringify({
      production: {
        servers: { gpu: { host: "127.0.0.1", port: 1 } },
        database: join(dir, "x.sqlite3"),
        logging: { dir: null },
        limits: { headers_timeout_ms: 20_000, request_timeout_ms: 5_000 },
      },
    }),
  );
  const message =
    "production.limits.request_timeout_ms: 5000 is shorter than limits.headers_timeout_ms (20000); a request cannot end before its headers do (0 turns the request deadline off)";
  for (const argv of [
    ["config", "check", "--offline"],
    ["serve", "--port", "0"],
  ]) {
    const r = await runCli([...argv, "--config", file, "--env", "production"]);
    assert.equal(r.code, 78, argv.join(" "));
    assert.equal(r.err, `ollama-proxy: invalid configuration ${file}:\n  ${message}`);
  }

  // The default headers deadline (10 s) counts too; 0 turns the request deadline off.
  writeFileSync(
    file,
    stringify({
      production: { servers: { gpu: { host: "127.0.0.1", port: 1 } }, limits: { request_timeout_ms: 3000 } },
    }),
  );
  assert.match(
    (await runCli(["config", "check", "--offline", "--config", file, "--env", "production"])).err,
    /3000 is shorter than limits\.headers_timeout_ms \(10000\)/,
  );
  writeFileSync(
    file,
    stringify({
      production: { servers: { gpu: { host: "127.0.0.1", port: 1 } }, limits: { request_timeout_ms: 0 } },
    }),
  );
  assert.equal(
    (await runCli(["config", "check", "--offline", "--config", file, "--env", "production"])).code,
    0,
  );
});
