import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import test from "node:test";
import { clientHome, login } from "./fixtures/client-cli.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy } from "./helpers.js";

// A token the proxy refuses is never stored: login says the proxy's own reason, and an
// earlier, working login stays as it was.

test("a token the proxy refuses is reported with the proxy's reason and not stored", async (t) => {
  const { credentials } = clientHome(t);
  const fake = await startFakeOllama({ name: "gpu1" });
  t.after(() => fake.close());
  const proxy = await startProxy(t, [fake]);

  const bad = await login(proxy.url, "olp_not-a-real-token");
  assert.equal(bad.code, 1);
  assert.equal(
    bad.err,
    `ollama-proxy: ${proxy.url} refused the token (401): unauthorized: a valid API token is required ` +
      "(Authorization: Bearer <token>). Check that you pasted all of it; nothing was stored",
  );
  assert.equal(bad.out, "");
  assert.equal(existsSync(credentials), false);

  // With a good login stored, a refused one leaves it alone.
  assert.equal((await login(proxy.url, proxy.userToken)).code, 0);
  const inactive = await login(proxy.url, "olp_also-wrong");
  assert.equal(inactive.code, 1);
  assert.match(inactive.err, /refused the token \(401\)/);
  assert.deepEqual(JSON.parse(readFileSync(credentials, "utf8")), { url: proxy.url, token: proxy.userToken });
});
