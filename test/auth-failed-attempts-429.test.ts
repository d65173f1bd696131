import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { request } from "node:http";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy, waitFor } from "./helpers.js";

// Noise is slowed down per client address: after 20 failed attempts in a minute, further
// failed attempts from that address get 429 with Retry-After until the block lifts. A valid
// token from the same address is still served: behind a NAT or a shared gateway, one client's
// bad token must not lock everyone else out.

/** GET with a chosen source address (any 127.0.0.0/8 address is loopback on Linux). */
function get(url: string, headers: Record<string, string>, localAddress = "127.0.0.1") {
  return new Promise<{ status: number; retryAfter: string | undefined; body: unknown }>((resolve, reject) => {
    request(url, { headers, localAddress }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        text += c;
      });
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          retryAfter: res.headers["retry-after"],
          body: JSON.parse(text),
        }),
      );
    })
      .on("error", reject)
      .end();
  });
}

const bad = () => ({ authorization: `Bearer olp_${randomBytes(32).toString("base64url")}` });

test("20 failed attempts from one address: its further failures get 429 with Retry-After, in each dialect", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend]);
  assert.equal(proxy.config.limits.authFailuresPerMinute, 20, "the default");

  for (let i = 1; i <= 20; i++) {
    assert.equal((await get(`${proxy.url}/api/tags`, bad())).status, 401, `attempt ${i}`);
  }
  const blocked = await get(`${proxy.url}/api/tags`, bad());
  assert.equal(blocked.status, 429);
  assert.deepEqual(blocked.body, { error: "too many failed authentication attempts; try again later" });
  const wait = Number(blocked.retryAfter);
  assert.ok(Number.isInteger(wait) && wait > 0 && wait <= 300, `Retry-After: ${blocked.retryAfter}`);

  const v1 = await get(`${proxy.url}/v1/models`, bad());
  assert.equal(v1.status, 429);
  assert.deepEqual(v1.body, {
    error: {
      message: "too many failed authentication attempts; try again later",
      type: "rate_limit_error",
      code: "rate_limited",
    },
  });

  // A valid token from the blocked address is served, and does not lift the block for the others.
  assert.equal((await get(`${proxy.url}/api/tags`, proxy.auth)).status, 200);
  assert.equal((await get(`${proxy.url}/api/tags`, bad())).status, 429);

  // Another client address is not affected, and the public endpoints stay open.
  assert.equal((await get(`${proxy.url}/api/tags`, bad(), "127.0.0.2")).status, 401);
  assert.equal((await get(`${proxy.url}/api/tags`, proxy.auth, "127.0.0.2")).status, 200);
  assert.equal((await get(`${proxy.url}/api/version`, {})).status, 200);
});

test("the block lifts after auth_block_seconds", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend], {
    extra: { limits: { auth_failures_per_minute: 3, auth_block_seconds: 1 } },
  });
  for (let i = 0; i < 3; i++) assert.equal((await get(`${proxy.url}/api/tags`, bad())).status, 401);
  const blocked = await get(`${proxy.url}/api/tags`, bad());
  assert.equal(blocked.status, 429);
  assert.equal(blocked.retryAfter, "1");
  assert.equal((await get(`${proxy.url}/api/tags`, proxy.auth)).status, 200, "a valid token while blocked");
  await waitFor(
    "the block to lift: a bad token gets 401 again",
    async () => (await get(`${proxy.url}/api/tags`, bad())).status === 401,
    3000,
  );
});

test("successful requests are never counted as failures", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend], { extra: { limits: { auth_failures_per_minute: 3 } } });
  for (let i = 0; i < 30; i++) assert.equal((await get(`${proxy.url}/api/tags`, proxy.auth)).status, 200);
  // A 403 is an authenticated request: not a guess.
  for (let i = 0; i < 10; i++) {
    const res = await fetch(`${proxy.url}/api/pull`, { method: "POST", headers: proxy.auth, body: "{}" });
    assert.equal(res.status, 403);
  }
  assert.equal((await get(`${proxy.url}/api/tags`, bad())).status, 401);
});

test("requests without a token are refused with 401 and not counted as guesses", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const proxy = await startProxy(t, [backend], { extra: { limits: { auth_failures_per_minute: 3 } } });
  // A client that sends no token, an empty one, or another scheme guesses nothing.
  const noTokens: Record<string, string>[] = [
    {},
    { authorization: "" },
    { authorization: "Bearer " },
    { authorization: "Basic YTpi" },
  ];
  for (const headers of noTokens) {
    for (let i = 0; i < 5; i++) {
      const res = await get(`${proxy.url}/api/tags`, headers);
      assert.equal(res.status, 401, JSON.stringify(headers));
    }
  }
  // The address has its whole allowance left: 3 bad tokens are 401, the 4th 429.
  for (let i = 0; i < 3; i++) assert.equal((await get(`${proxy.url}/api/tags`, bad())).status, 401);
  assert.equal((await get(`${proxy.url}/api/tags`, bad())).status, 429);
  // And a blocked address without a token still reads why: 401, not 429.
  assert.equal((await get(`${proxy.url}/api/tags`, {})).status, 401);
});
