import assert from "node:assert/strict";
import test from "node:test";
import { clientHome, login, runClient } from "./fixtures/client-cli.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy } from "./helpers.js";

// logout forgets the token on this machine; the proxy still accepts it until an admin acts.

test("logout removes the credentials; whoami then says to log in", async (t) => {
  const { credentials } = clientHome(t);
  const fake = await startFakeOllama({ name: "gpu1" });
  t.after(() => fake.close());
  const proxy = await startProxy(t, [fake]);
  assert.equal((await login(proxy.url, proxy.userToken)).code, 0);

  const out = await runClient(["logout"]);
  assert.equal(out.code, 0);
  assert.equal(
    out.out,
    `Logged out: removed ${credentials}.\n` +
      "The token itself still works until an admin rotates or deactivates it (`ollama-proxy users rotate NAME`).",
  );
  const again = await runClient(["logout"]);
  assert.equal(again.code, 0);
  assert.equal(again.out, `Not logged in (no ${credentials}).`);
  assert.match((await runClient(["whoami"])).err, /not logged in: run `ollama-proxy login URL` first/);
});
