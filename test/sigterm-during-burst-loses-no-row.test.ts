import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { openStore } from "../lib/store/open.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { spawnProxy } from "./fixtures/spawn-proxy.js";
import { section, tempDir, waitFor, writeConfig } from "./helpers.js";

// The real CLI (bin/ollama-proxy over the tsup bundle, so the worker is found in dist/) gets
// SIGTERM in the middle of a burst of streams: every request that got a response — finished
// streams, and the 503s of requests that arrived while it drained — has its row once it exits.

test("SIGTERM during a burst loses no row for a request that got a response", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1", behaviour: { chunks: 5, intervalMs: 20 } });
  t.after(() => backend.close());
  const dir = tempDir(t);
  const { file, config } = writeConfig(
    dir,
    section([backend], { logging: { level: "info", dir: join(dir, "log") } }),
  );
  const store = openStore(config.database);
  const token = store.users.create("alice").token;
  store.close();

  const proxy = await spawnProxy(t, file);
  const url = proxy.url;

  const answered = new Set<string>();
  let sent = 0;
  let stopped = false;
  const client = async (c: number) => {
    for (let i = 0; !stopped; i++) {
      const id = `c${c}-${i}`;
      sent++;
      try {
        const res = await fetch(`${url}/api/generate`, {
          method: "POST",
          headers: {
            authorization: `Bearer ${token}`,
            "content-type": "application/json",
            "x-request-id": id,
          },
          body: JSON.stringify({ model: "llama3", prompt: "hi" }),
        });
        answered.add(id);
        await res.arrayBuffer().catch(() => {});
      } catch {
        // Refused once the listener closed: no response, so no row is owed.
        return;
      }
    }
  };
  const clients = Promise.all(Array.from({ length: 24 }, (_, c) => client(c)));
  await waitFor("100 answered requests before SIGTERM", () => answered.size >= 100, 20_000);
  const code = await proxy.stop("SIGTERM");
  stopped = true;
  await clients;
  assert.equal(code, 0, proxy.stderr());

  const after = openStore(config.database, { readonly: true });
  t.after(() => after.close());
  const rows = after.db.prepare("SELECT request_id, status FROM request_log").all() as {
    request_id: string;
    status: number;
  }[];
  const logged = new Set(rows.map((r) => r.request_id));
  const missing = [...answered].filter((id) => !logged.has(id));
  assert.deepEqual(missing, [], `${missing.length} of ${answered.size} answered requests have no row`);
  assert.ok(answered.size >= 100 && sent >= answered.size);
  assert.ok(rows.every((r) => r.status === 200 || r.status === 503));
  assert.ok(
    rows.some((r) => r.status === 503),
    "requests arrived while it drained",
  );
});
