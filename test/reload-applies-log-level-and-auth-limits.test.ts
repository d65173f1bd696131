import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { test } from "node:test";
import { stringify } from "yaml";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { spawnProxy } from "./fixtures/spawn-proxy.js";
import { addUser, section, tempDir, waitFor, writeConfig } from "./helpers.js";

// SIGHUP applies the keys that used to be read only at start: the app log's level and the
// failed-token limits. The reload says so in the foreground output.

test("SIGHUP changes logging.level and limits.auth_failures_per_minute in the running process", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const dir = tempDir(t);
  const base = section([backend], {
    logging: { level: "warn", dir: null },
    limits: { auth_failures_per_minute: 1000 },
  });
  const { file, config } = writeConfig(dir, base);
  const auth = addUser(config.database);
  const proxy = await spawnProxy(t, file);
  const bad = () => ({ authorization: `Bearer olp_${randomBytes(32).toString("base64url")}` });
  const tags = async (headers: Record<string, string>) => {
    const r = await fetch(`${proxy.url}/api/tags`, { headers });
    await r.arrayBuffer();
    return r.status;
  };

  // At warn, a request leaves no line; three failed tokens are far from 1000.
  for (let i = 0; i < 3; i++) assert.equal(await tags(bad()), 401);
  assert.equal(await tags(auth), 200);

  writeFileSync(
    file,
    stringify({
      test: {
        database: config.database,
        ...base,
        logging: { level: "info", dir: null },
        limits: { auth_failures_per_minute: 2, auth_block_seconds: 60 },
      },
    }),
  );
  proxy.child.kill("SIGHUP");
  await waitFor("the reload in the foreground output", () => proxy.stderr().includes("config reloaded"));
  assert.match(
    proxy.stderr(),
    /config reloaded from .*ollama_proxy\.yml: applied logging\.level, limits\.auth_failures_per_minute, limits\.auth_block_seconds\n/,
  );
  assert.doesNotMatch(proxy.stderr(), /needs a restart/);

  // At info, each request has its line now.
  assert.equal(await tags(auth), 200);
  await waitFor("a request line in the app log", () =>
    proxy
      .stdout()
      .split("\n")
      .some((l) => l.includes('"msg":"request"') && l.includes('"status":200')),
  );
  assert.equal(
    proxy
      .stdout()
      .split("\n")
      .filter((l) => l.includes('"msg":"request"')).length,
    1,
    "the requests before the reload left no line",
  );

  // The address already has 3 failures this minute: one more is over the new limit of 2, and
  // from then on its failed attempts are blocked for the new 60 s (a good token is still served).
  assert.equal(await tags(bad()), 401);
  const blocked = await fetch(`${proxy.url}/api/tags`, { headers: bad() });
  assert.equal(blocked.status, 429);
  assert.equal(blocked.headers.get("retry-after"), "60");
  await blocked.arrayBuffer();
  assert.equal(await tags(auth), 200);
  assert.equal(await proxy.stop(), 0);
});
