import assert from "node:assert/strict";
import { test } from "node:test";
import { Ollama } from "ollama";
import type { Io } from "../lib/cli/io.js";
import { main } from "../lib/cli/main.js";
import type { UsageRow } from "../lib/cli/usage-report.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startLoggedProxy } from "./fixtures/logged-proxy.js";

function capture(): Io & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (s) => stdout.push(s), err: (s) => stderr.push(s) };
}

async function usage(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = capture();
  const code = await main(["usage", ...args], io);
  return { code, out: io.stdout.join("\n"), err: io.stderr.join("\n") };
}

test("usage: per user and model, as a table and as JSON, read-only while the server runs", async (t) => {
  const backend = await startFakeOllama({
    name: "gpu1",
    models: [{ name: "llama3:latest" }, { name: "nomic-embed-text:latest" }],
  });
  t.after(() => backend.close());
  const proxy = await startLoggedProxy(t, [backend]);
  const alice = new Ollama({ host: proxy.url, headers: proxy.auth });
  const root = new Ollama({ host: proxy.url, headers: { authorization: `Bearer ${proxy.adminToken}` } });
  for (let i = 0; i < 3; i++) {
    for await (const _ of await alice.generate({ model: "llama3", prompt: "hi", stream: true })) {
      // drain
    }
  }
  await alice.embed({ model: "nomic-embed-text", input: "x" });
  await assert.rejects(alice.generate({ model: "nope", prompt: "x", stream: false }));
  await root.chat({ model: "llama3:latest", messages: [{ role: "user", content: "hi" }], stream: false });
  await root.chat({ model: "llama3", messages: [{ role: "user", content: "hi" }], stream: false });
  // Probes are logged but are nobody's usage.
  await fetch(`${proxy.url}/health`);
  await proxy.waitForRows(8);

  const cfg = ["--config", proxy.file, "--env", "test"];
  const json = await usage([...cfg, "--json"]);
  assert.equal(json.code, 0, json.err);
  const report = JSON.parse(json.out) as { since: string; until: string; rows: UsageRow[] };
  assert.ok(Date.parse(report.until) - Date.parse(report.since) === 24 * 3600 * 1000);
  const brief = report.rows.map((r) => [
    r.user,
    r.model,
    r.requests,
    r.errors,
    r.prompt_tokens,
    r.completion_tokens,
  ]);
  assert.deepEqual(brief, [
    ["alice", "llama3:latest", 3, 0, 21, 9],
    ["alice", "nomic-embed-text:latest", 1, 0, 8, 0],
    ["alice", "nope:latest", 1, 1, 0, 0],
    ["root", "llama3:latest", 2, 0, 14, 6],
  ]);
  const gen = report.rows[0]!;
  assert.ok(gen.median_duration_ms !== null && gen.p95_duration_ms !== null);
  assert.ok(gen.median_duration_ms <= gen.p95_duration_ms);
  assert.ok(gen.median_ttft_ms !== null && gen.median_ttft_ms <= gen.p95_duration_ms);
  assert.equal(gen.median_tokens_per_s, 3);
  assert.equal(report.rows[2]!.median_ttft_ms, null);

  const table = await usage(cfg);
  assert.equal(table.code, 0, table.err);
  const lines = table.out.split("\n");
  assert.match(
    lines[0]!,
    /^Usage in the last 24h \(since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\), by user, model:$/,
  );
  assert.match(
    lines[1]!,
    /^USER\s+MODEL\s+REQUESTS\s+ERRORS\s+PROMPT TOK\s+COMPL TOK\s+MEDIAN\s+P95\s+TTFT\s+TOK\/S$/,
  );
  assert.match(lines[2]!, /^alice\s+llama3:latest\s+3\s+0\s+21\s+9\s+\d+ ms\s+\d+ ms\s+\d+ ms\s+3\.0$/);
  assert.match(lines[4]!, /^alice\s+nope:latest\s+1\s+1\s+0\s+0\s+\d+ ms\s+\d+ ms\s+-\s+-$/);
  assert.match(lines[6]!, /^TOTAL\s+7\s+1\s+43\s+15$/);
  assert.equal(lines.length, 7);

  // Filters: one user; one model, named as the client named it.
  const onlyRoot = JSON.parse((await usage([...cfg, "--json", "--user", "root"])).out) as {
    rows: UsageRow[];
  };
  assert.deepEqual(
    onlyRoot.rows.map((r) => [r.user, r.model, r.requests]),
    [["root", "llama3:latest", 2]],
  );
  const onlyLlama = JSON.parse((await usage([...cfg, "--json", "--model", "llama3"])).out) as {
    rows: UsageRow[];
  };
  assert.deepEqual(
    onlyLlama.rows.map((r) => [r.user, r.requests]),
    [
      ["alice", 3],
      ["root", 2],
    ],
  );

  // A deleted user's rows still name it.
  proxy.store.users.remove("root");
  const afterDelete = JSON.parse((await usage([...cfg, "--json", "--user", "root"])).out) as {
    rows: UsageRow[];
  };
  assert.equal(afterDelete.rows[0]?.requests, 2);

  // Nothing in the window, nobody by that name.
  const nobody = await usage([...cfg, "--user", "zed"]);
  assert.equal(nobody.code, 0);
  assert.match(nobody.out, /^No requests in the last 24h/);
});

test("usage: a bad --since is a usage error; a database without a request log says so", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const proxy = await startLoggedProxy(t, [backend]);
  const cfg = ["--config", proxy.file, "--env", "test"];
  const bad = await usage([...cfg, "--since", "yesterday"]);
  assert.equal(bad.code, 64);
  assert.match(bad.err, /--since: "yesterday" is not a duration like 90m, 24h, 30d or 2w/);

  proxy.store.db.exec("DROP TABLE request_log");
  const none = await usage(cfg);
  assert.equal(none.code, 1);
  assert.match(none.err, /has no request log yet/);
});
