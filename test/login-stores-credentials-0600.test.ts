import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname } from "node:path";
import test from "node:test";
import { clientHome, login } from "./fixtures/client-cli.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy } from "./helpers.js";

// login checks the token against the proxy, then keeps URL and token where only the user can
// read them: the file 0600, its folder 0700, whatever the umask.

test("login stores the URL and token in a 0600 file inside a 0700 folder", async (t) => {
  const { credentials } = clientHome(t);
  const fake = await startFakeOllama({ name: "gpu1" });
  t.after(() => fake.close());
  const proxy = await startProxy(t, [fake]);
  const umask = process.umask(0o022);
  t.after(() => process.umask(umask));

  const r = await login(`${proxy.url}/`, proxy.userToken);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.split("\n")[0], `Logged in to ${proxy.url} as alice (user).`);
  assert.ok(r.out.includes(`Saved in ${credentials} (readable by you only).`), r.out);
  assert.ok(!`${r.out}${r.err}`.includes(proxy.userToken), "the token is never printed");

  assert.equal(statSync(credentials).mode & 0o777, 0o600);
  assert.equal(statSync(dirname(credentials)).mode & 0o777, 0o700);
  assert.deepEqual(JSON.parse(readFileSync(credentials, "utf8")), { url: proxy.url, token: proxy.userToken });
  // Written through a temp file renamed over it: nothing else is left behind.
  assert.deepEqual(readdirSync(dirname(credentials)), ["credentials.json"]);

  // Logging in again (as someone else) replaces the file, still 0600.
  const again = await login(proxy.url, proxy.adminToken);
  assert.equal(again.code, 0, again.err);
  assert.equal(JSON.parse(readFileSync(credentials, "utf8")).token, proxy.adminToken);
  assert.equal(statSync(credentials).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(dirname(credentials)), ["credentials.json"]);
});
