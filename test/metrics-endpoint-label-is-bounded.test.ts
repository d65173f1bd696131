import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startLoggedProxy } from "./fixtures/logged-proxy.js";
import { scrape, value } from "./fixtures/prometheus.js";

// The endpoint label names the endpoint of the table (lib/stages/endpoints.ts), a family for
// the prefixed ones, and `other` for any path Ollama does not serve: a client making up
// paths cannot grow the series, and /health probes are told apart from inference.

test("requests are labelled by endpoint: the table's path, a family for prefixed paths, other for the rest", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const proxy = await startLoggedProxy(t, [backend]);
  const admin = { authorization: `Bearer ${proxy.adminToken}` };

  for (let i = 0; i < 3; i++) assert.equal((await fetch(`${proxy.url}/health`)).status, 200);
  assert.equal((await fetch(`${proxy.url}/api/tags`, { headers: proxy.auth })).status, 200);
  for (let i = 0; i < 25; i++) {
    const r = await fetch(`${proxy.url}/made/up/${i}`, { headers: proxy.auth });
    assert.equal(r.status, 404);
  }
  const blob = await fetch(`${proxy.url}/api/blobs/sha256:${"ab".repeat(32)}`, {
    method: "HEAD",
    headers: admin,
  });
  assert.equal(blob.status, 404);
  await proxy.waitForRows(30);

  const fams = await scrape(proxy.url);
  const series = fams.get("ollama_proxy_requests_total")!.samples;
  assert.equal(
    value(fams, "ollama_proxy_requests_total", { endpoint: "/health", code: "200", server: "none" }),
    3,
  );
  assert.equal(value(fams, "ollama_proxy_requests_total", { endpoint: "/api/tags", code: "200" }), 1);
  assert.equal(value(fams, "ollama_proxy_requests_total", { endpoint: "other", code: "404" }), 25);
  assert.equal(
    value(fams, "ollama_proxy_requests_total", {
      endpoint: "/api/blobs/{digest}",
      code: "404",
      server: "gpu1",
    }),
    1,
  );
  assert.deepEqual(
    [...new Set(series.map((s) => s.labels.endpoint))].sort(),
    ["/api/blobs/{digest}", "/api/tags", "/health", "other"],
    "no raw path is a label",
  );
  assert.equal(
    value(fams, "ollama_proxy_request_duration_seconds_count", { endpoint: "/health", server: "none" }),
    3,
  );
});
