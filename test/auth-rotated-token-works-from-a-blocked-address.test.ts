import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { request } from "node:http";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { runCli, startProxy, waitFor } from "./helpers.js";

// Issue 14, item 4: a script behind the team's shared address keeps sending a stale token,
// the address gets blocked, and the operator rotates the token. The new token must work from
// that very address at once (within the 2 s a CLI change takes), while the old one — now a
// bad token like any other — keeps getting 429.

function status(url: string, authorization: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, { headers: { authorization }, localAddress: "127.0.0.1" }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    })
      .on("error", reject)
      .end();
  });
}

test("after 20 bad tokens from one address, users rotate gives a token that works from it", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend]);
  const tags = `${proxy.url}/api/tags`;
  const old = proxy.auth.authorization;

  for (let i = 1; i <= 20; i++) {
    const guess = `Bearer olp_${randomBytes(32).toString("base64url")}`;
    assert.equal(await status(tags, guess), 401, `attempt ${i}`);
  }
  assert.equal(await status(tags, `Bearer olp_${randomBytes(32).toString("base64url")}`), 429, "blocked");

  const rotated = await runCli(["users", "rotate", "alice", "--config", proxy.file, "--env", "test"]);
  assert.equal(rotated.code, 0, rotated.err);
  const token = /olp_[A-Za-z0-9_-]{43}/.exec(rotated.out)?.[0];
  assert.ok(token !== undefined, `a new token in: ${rotated.out}`);

  await waitFor("the rotated token to be served from the blocked address", async () => {
    return (await status(tags, `Bearer ${token}`)) === 200;
  });
  assert.equal(await status(tags, old), 429, "the old token is a failed attempt from a blocked address");
  assert.equal(await status(tags, `Bearer ${token}`), 200, "and does not block the new one");
});
