import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { post, startProxy } from "./helpers.js";

// X-Forwarded-For is believed only from a peer listed in trusted_proxies: then it is kept and
// the peer appended, and the client it names is who the failed-auth limit counts (a blocked
// client's failed attempts get 429; a valid token is always served).

test("a trusted proxy's X-Forwarded-For is kept, and its clients are limited one by one", async (t) => {
  const backend = await startFakeOllama({ name: "gpu" });
  t.after(() => backend.close());
  const p = await startProxy(t, [backend], {
    extra: { trusted_proxies: ["127.0.0.0/8", "::1"], limits: { auth_failures_per_minute: 3 } },
  });
  const r = await post(
    `${p.url}/api/generate`,
    { model: "llama3", prompt: "x", stream: false },
    { ...p.auth, "x-forwarded-for": "6.6.6.6" },
  );
  assert.equal(r.status, 200);
  assert.equal(backend.work()[0]?.headers["x-forwarded-for"], "6.6.6.6, 127.0.0.1");

  const bad = { authorization: `Bearer olp_${"z".repeat(43)}` };
  for (let i = 0; i < 3; i++) {
    assert.equal(
      (await fetch(`${p.url}/api/tags`, { headers: { ...bad, "x-forwarded-for": "6.6.6.6" } })).status,
      401,
    );
  }
  assert.equal(
    (await fetch(`${p.url}/api/tags`, { headers: { ...bad, "x-forwarded-for": "6.6.6.6" } })).status,
    429,
  );
  assert.equal(
    (await fetch(`${p.url}/api/tags`, { headers: { ...p.auth, "x-forwarded-for": "6.6.6.6" } })).status,
    200,
    "a valid token from the blocked client",
  );
  // Another client behind the same reverse proxy is not blocked with it.
  assert.equal(
    (await fetch(`${p.url}/api/tags`, { headers: { ...bad, "x-forwarded-for": "7.7.7.7" } })).status,
    401,
  );
});

test("an untrusted peer cannot pick its address by sending X-Forwarded-For", async (t) => {
  const backend = await startFakeOllama({ name: "gpu" });
  t.after(() => backend.close());
  const p = await startProxy(t, [backend], {
    extra: { trusted_proxies: ["10.0.0.0/8"], limits: { auth_failures_per_minute: 3 } },
  });
  const bad = { authorization: `Bearer olp_${"z".repeat(43)}` };
  for (let i = 0; i < 3; i++) {
    await fetch(`${p.url}/api/tags`, { headers: { ...bad, "x-forwarded-for": `9.9.9.${i}` } });
  }
  // Three different claimed addresses, one real one: it is blocked.
  assert.equal(
    (await fetch(`${p.url}/api/tags`, { headers: { ...bad, "x-forwarded-for": "8.8.8.8" } })).status,
    429,
  );
});
