import assert from "node:assert/strict";
import test from "node:test";
import { clientHome, login, startConnect } from "./fixtures/client-cli.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { runCli, startProxy, waitFor } from "./helpers.js";

// A token revoked while connect runs: the proxy's 401 reaches the client unchanged (the
// `ollama` command prints its message), connect says once what to do, and a new
// `ollama-proxy login` in another terminal is picked up without a restart.

test("a 401 passes through, connect hints to log in again, and picks up the new login", async (t) => {
  clientHome(t);
  const fake = await startFakeOllama({ name: "gpu1" });
  t.after(() => fake.close());
  // The polls below fail on purpose until the change lands: no failed-auth block here.
  const proxy = await startProxy(t, [fake], { extra: { limits: { auth_failures_per_minute: 100_000 } } });
  assert.equal((await login(proxy.url, proxy.userToken)).code, 0);
  const door = await startConnect(t);
  assert.equal((await fetch(`${door.url}/api/tags`)).status, 200);

  const rotated = await runCli(["users", "rotate", "alice", "--config", proxy.file, "--env", "test"]);
  assert.equal(rotated.code, 0, rotated.err);
  let refused: Response | null = null;
  await waitFor("the proxy to refuse the old token", async () => {
    refused = await fetch(`${door.url}/api/tags`);
    return refused.status === 401;
  });
  assert.equal(refused!.headers.get("www-authenticate"), 'Bearer realm="ollama-proxy"');
  assert.deepEqual(await refused!.json(), {
    error: "unauthorized: a valid API token is required (Authorization: Bearer <token>)",
  });
  assert.equal((await fetch(`${door.url}/api/ps`)).status, 401);
  const hint =
    "connect: the proxy refused the token (401): it was revoked, rotated or has expired. " +
    "Get a new one from the proxy's admin and run `ollama-proxy login` again; connect picks it up by itself.";
  assert.deepEqual(
    door.stderr.filter((l) => l.includes("refused")),
    [hint],
    "said once, not per request",
  );

  const token = /olp_[A-Za-z0-9_-]{43}/.exec(rotated.out)![0];
  assert.equal((await login(proxy.url, token)).code, 0);
  // The next 401 makes connect read the new login; the request after it carries the new token.
  assert.equal((await fetch(`${door.url}/api/tags`)).status, 401);
  assert.equal((await fetch(`${door.url}/api/tags`)).status, 200);
  assert.equal(
    door.stderr.at(-1),
    "connect: the proxy refused the token; using the new one from `ollama-proxy login` from now on",
  );
});
