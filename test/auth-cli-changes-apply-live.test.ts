import assert from "node:assert/strict";
import { test } from "node:test";
import { openStore } from "../lib/store/open.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { runCli, startProxy, waitFor } from "./helpers.js";

// The CLI is another process with its own connection to the database. Whatever it does to a
// user, the running server applies within 2 seconds, without a restart.

const WITHIN_MS = 2000;

test("create, deactivate, activate, rotate and delete take effect within 2 s", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  // The polls below fail on purpose until the change lands: no failed-auth block here.
  const proxy = await startProxy(t, [backend], { extra: { limits: { auth_failures_per_minute: 100_000 } } });
  const args = ["--config", proxy.file, "--env", "test"];
  const status = async (token: string) =>
    (await fetch(`${proxy.url}/api/tags`, { headers: { authorization: `Bearer ${token}` } })).status;
  const cli = async (...argv: string[]) => {
    const r = await runCli(["users", ...argv, ...args]);
    assert.equal(r.code, 0, r.err);
    return r.out;
  };
  const tokenIn = (out: string) => out.match(/olp_[A-Za-z0-9_-]{43}/)![0];

  const first = tokenIn(await cli("create", "dave"));
  await waitFor(
    "a user created by the CLI to be accepted",
    async () => (await status(first)) === 200,
    WITHIN_MS,
  );

  await cli("deactivate", "dave");
  await waitFor("a deactivated user to be refused", async () => (await status(first)) === 401, WITHIN_MS);

  await cli("activate", "dave");
  await waitFor("a reactivated user to be accepted", async () => (await status(first)) === 200, WITHIN_MS);

  const second = tokenIn(await cli("rotate", "dave"));
  await waitFor("the rotated token to be accepted", async () => (await status(second)) === 200, WITHIN_MS);
  assert.equal(await status(first), 401, "the old token died with the rotation");

  await cli("delete", "dave");
  await waitFor("a deleted user to be refused", async () => (await status(second)) === 401, WITHIN_MS);

  // Users that were not touched never noticed.
  assert.equal(await status(proxy.userToken), 200);
  assert.equal(await status(proxy.adminToken), 200);
});

test("a token that expires while the server runs is refused from then on", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend], { extra: { limits: { auth_failures_per_minute: 100_000 } } });
  const other = openStore(proxy.config.database);
  t.after(() => other.close());
  const token = other.users.create("brief", { expiresAt: Date.now() + 1000 }).token;
  const status = async () =>
    (await fetch(`${proxy.url}/api/tags`, { headers: { authorization: `Bearer ${token}` } })).status;
  await waitFor("the new user to be accepted", async () => (await status()) === 200, 900);
  await waitFor("the token to expire", async () => (await status()) === 401, WITHIN_MS);
});
