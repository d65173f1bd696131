import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { createAppLog } from "../lib/log/app-log.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startFakeOpenAI } from "./fixtures/fake-openai.js";
import { startLoggedProxy } from "./fixtures/logged-proxy.js";
import { section, tempDir, writeConfig } from "./helpers.js";

/** Every regular file under `dir`, recursively (symlinks are followed by their targets' own entries). */
function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return files(p);
    return e.isFile() ? [p] : [];
  });
}

// Tokens travel in every header a client might use, the prompt is a secret too, and the app
// log runs at trace: still neither the SQLite files (with -wal) nor the app log files hold a
// token, an API key or a prompt.

test("the database and the log files never contain a token, an API key or a prompt", async (t) => {
  const dir = tempDir(t);
  const apiKey = "sk-live-DO-NOT-LOG-7f3a9c2e1b";
  const prompt = "my secret prompt: the launch code is 0000";
  const wrongToken = `olp_${"x".repeat(43)}`;
  // A real external host that needs the API key, so the key is really used on the way.
  const provider = await startFakeOpenAI({ key: apiKey });
  t.after(() => provider.close());
  const extra = {
    logging: { level: "trace", dir: join(dir, "log") },
    external_hosts: {
      openai: { host: "127.0.0.1", port: provider.port, protocol: "http", api_key_env: "TEST_OPENAI_KEY" },
    },
    model_config: { explicit_assignments: { "gpt-4o": "openai" } },
  };
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const appLog = createAppLog(writeConfig(dir, section([backend], extra)).config);
  const proxy = await startLoggedProxy(t, [backend], {
    dir,
    extra,
    log: appLog.log,
    environ: { TEST_OPENAI_KEY: apiKey },
  });
  const body = (model: string) => JSON.stringify({ model, prompt, stream: true });
  const send = (headers: Record<string, string>, model = "llama3", path = "/api/generate?token=") =>
    fetch(`${proxy.url}${path}${encodeURIComponent(proxy.userToken)}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: body(model),
    }).then(async (r) => [r.status, await r.text()] as const);

  const all = [
    await send({ authorization: `Bearer ${proxy.userToken}`, "x-api-key": proxy.userToken }),
    await send({ authorization: `Bearer ${proxy.adminToken}`, cookie: `session=${proxy.userToken}` }),
    await send({ authorization: `Bearer ${wrongToken}` }),
    await send({ authorization: `Basic ${Buffer.from(`u:${proxy.userToken}`).toString("base64")}` }),
    await send({ authorization: `Bearer ${proxy.userToken}` }, "gpt-4o"),
    await send({ authorization: `Bearer ${proxy.userToken}`, "proxy-authorization": apiKey }, "nope"),
  ];
  assert.deepEqual(
    all.map(([s]) => s),
    [200, 200, 401, 401, 200, 404],
  );
  assert.equal(provider.received.at(-1)?.headers.authorization, `Bearer ${apiKey}`);
  const rows = await proxy.waitForRows(all.length);
  await proxy.close();
  proxy.store.close();
  await appLog.close();

  const everything = files(dir).filter((f) => statSync(f).size > 0);
  const logs = everything.filter((f) => f.includes(`${join(dir, "log")}/`));
  assert.ok(logs.length >= 1, "an app log file was written");
  assert.ok(
    everything.some((f) => f.endsWith(".sqlite3")),
    "the database is among the files searched",
  );
  const logText = logs.map((f) => readFileSync(f, "utf8")).join("");
  // The search found real content: request lines naming the user, rows for every request.
  assert.match(logText, /"msg":"request"/);
  assert.match(logText, /"user":"alice"/);
  assert.equal(rows.length, all.length);
  for (const f of everything) {
    const bytes = readFileSync(f);
    for (const [what, secret] of [
      ["alice's token", proxy.userToken],
      ["root's token", proxy.adminToken],
      ["a wrong token", wrongToken],
      ["the API key", apiKey],
      ["the prompt", prompt],
    ] as const) {
      assert.equal(bytes.includes(secret), false, `${f} contains ${what}`);
    }
  }
});
