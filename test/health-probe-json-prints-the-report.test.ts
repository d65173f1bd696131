import assert from "node:assert/strict";
import { test } from "node:test";
import { main } from "../lib/cli/main.js";
import type { HealthReport } from "../lib/observe/health.js";
import { VERSION } from "../lib/version.js";
import { captureIo } from "./fixtures/capture-io.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy, waitFor } from "./helpers.js";

// `health --json` prints the proxy's /health report as one JSON line, for scripts (jq) and
// monitoring agents; the exit code still follows the status.

test("--json prints the /health report on one line", async (t) => {
  const a = await startFakeOllama({ name: "gpu1", models: [{ name: "llama3:latest", loaded: true }] });
  const b = await startFakeOllama({ name: "gpu2", models: [] });
  t.after(() => Promise.all([a.close(), b.close()]));
  await b.kill();
  const proxy = await startProxy(t, [a, b]);
  await waitFor("both servers polled", async () => {
    const body = (await (await fetch(`${proxy.url}/health`)).json()) as HealthReport;
    return body.servers.every((s) => s.state !== "unknown") && body.servers[0]?.models === 1;
  });

  const io = captureIo();
  assert.equal(await main(["health", "--url", proxy.url, "--json"], io), 1);
  assert.equal(io.stdout.length, 1);
  assert.ok(!(io.stdout[0] ?? "").trimEnd().includes("\n"), "one line");
  const report = JSON.parse(io.stdout[0] ?? "") as HealthReport;
  assert.equal(report.status, "degraded");
  assert.equal(report.version, VERSION);
  assert.deepEqual(
    report.servers.map((s) => [s.name, s.state, s.models, s.loaded]),
    [
      ["gpu1", "up", 1, ["llama3:latest"]],
      ["gpu2", "down", 0, []],
    ],
  );
});
