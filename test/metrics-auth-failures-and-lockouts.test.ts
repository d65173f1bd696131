import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startLoggedProxy } from "./fixtures/logged-proxy.js";
import { scrape, value } from "./fixtures/prometheus.js";

// Token guessing shows in /metrics: every refused token, and every address blocked for it.

test("refused tokens and the lockout they cause are counted", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const proxy = await startLoggedProxy(t, [backend], { extra: { limits: { auth_failures_per_minute: 3 } } });
  const bad = () => ({ authorization: `Bearer olp_${randomBytes(32).toString("base64url")}` });

  const fresh = await scrape(proxy.url);
  assert.equal(value(fresh, "ollama_proxy_auth_failures_total"), 0);
  assert.equal(value(fresh, "ollama_proxy_auth_lockouts_total"), 0);

  // No token at all is refused and counted, but guesses nothing: it never blocks an address.
  assert.equal((await fetch(`${proxy.url}/api/tags`)).status, 401, "no token");
  assert.equal((await fetch(`${proxy.url}/api/tags`, { headers: bad() })).status, 401);
  assert.equal((await fetch(`${proxy.url}/api/tags`, { headers: bad() })).status, 401);
  // The third bad token in a minute blocks the address: this one is still answered 401 ...
  assert.equal((await fetch(`${proxy.url}/api/tags`, { headers: bad() })).status, 401);
  // ... and from now on its bad tokens get 429, while a good token is still served.
  const blocked = await fetch(`${proxy.url}/api/tags`, { headers: bad() });
  assert.equal(blocked.status, 429);
  await blocked.arrayBuffer();
  assert.equal((await fetch(`${proxy.url}/api/tags`, { headers: proxy.auth })).status, 200);

  const fams = await scrape(proxy.url);
  assert.equal(fams.get("ollama_proxy_auth_failures_total")?.type, "counter");
  assert.equal(value(fams, "ollama_proxy_auth_failures_total"), 5);
  assert.equal(value(fams, "ollama_proxy_auth_lockouts_total"), 1);
});
