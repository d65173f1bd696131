import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import test from "node:test";
import { clientHome, login, runClient } from "./fixtures/client-cli.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { runCli, startProxy, waitFor } from "./helpers.js";

// whoami (and connect, which shares the loading) say what to run for each way the stored
// credentials can fail: none, a file that is not ours, a token the proxy no longer takes.

test("whoami says what to do when not logged in, the file is broken, or the token was revoked", async (t) => {
  const { credentials } = clientHome(t);
  const fake = await startFakeOllama({ name: "gpu1" });
  t.after(() => fake.close());
  const proxy = await startProxy(t, [fake]);

  const none = await runClient(["whoami"]);
  assert.equal(none.code, 1);
  assert.equal(
    none.err,
    `ollama-proxy: not logged in: run \`ollama-proxy login URL\` first (there is no ${credentials})`,
  );

  assert.equal((await login(proxy.url, proxy.userToken)).code, 0);
  writeFileSync(credentials, '{"url": "http://x"}', { mode: 0o600 });
  const broken = await runClient(["whoami"]);
  assert.equal(broken.code, 1);
  assert.equal(
    broken.err,
    `ollama-proxy: ${credentials} is not usable (no token): run \`ollama-proxy login URL\` again`,
  );

  assert.equal((await login(proxy.url, proxy.userToken)).code, 0);
  // As an admin would, from another process with its own connection to the database.
  assert.equal(
    (await runCli(["users", "deactivate", "alice", "--config", proxy.file, "--env", "test"])).code,
    0,
  );
  // The running proxy applies the change within 2 s.
  let revoked = await runClient(["whoami"]);
  await waitFor("the proxy to refuse the deactivated token", async () => {
    revoked = await runClient(["whoami"]);
    return revoked.code !== 0;
  });
  assert.equal(revoked.code, 1);
  assert.equal(
    revoked.err,
    `ollama-proxy: ${proxy.url} refused the stored token (401): unauthorized: a valid API token is required ` +
      `(Authorization: Bearer <token>). It was revoked, rotated or has expired: get a new one and run ` +
      `\`ollama-proxy login ${proxy.url}\` again`,
  );
});
