import assert from "node:assert/strict";
import test from "node:test";
import { Ollama } from "ollama";
import { clientHome, login, startConnect } from "./fixtures/client-cli.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy } from "./helpers.js";

// The official ollama JS client, given only the door's address and no headers at all, works
// as against one Ollama: what `ollama list`, `show`, `run`, `ps` and `pull` do.

test("the ollama client with no headers lists, shows, chats and sees ps through connect", async (t) => {
  clientHome(t);
  const fake = await startFakeOllama({
    name: "gpu1",
    models: [{ name: "llama3:latest", loaded: true }, { name: "qwen2.5:7b" }],
  });
  t.after(() => fake.close());
  const proxy = await startProxy(t, [fake]);
  assert.equal((await login(proxy.url, proxy.userToken)).code, 0);
  const door = await startConnect(t);
  const ollama = new Ollama({ host: door.url });

  const list = await ollama.list();
  assert.deepEqual(list.models.map((m) => m.name).sort(), ["llama3:latest", "qwen2.5:7b"]);
  const show = await ollama.show({ model: "llama3" });
  assert.equal(show.details.family, "llama");
  let text = "";
  let last: { done: boolean; eval_count?: number } | undefined;
  for await (const part of await ollama.chat({
    model: "llama3",
    messages: [{ role: "user", content: "hi" }],
    stream: true,
  })) {
    text += part.message.content;
    last = part;
  }
  assert.equal(text, "w0 w1 w2 ");
  assert.equal(last?.done, true);
  assert.equal(last?.eval_count, 3);
  const ps = await ollama.ps();
  assert.deepEqual(
    ps.models.map((m) => m.name),
    ["llama3:latest"],
  );
  // Every call reached Ollama without the user's token (the proxy keeps it).
  for (const r of fake.work()) assert.equal(r.headers.authorization, undefined);

  // A user may not pull: the proxy's 403 comes through as the client's error.
  await assert.rejects(ollama.pull({ model: "mistral", stream: false }), /needs an admin token/);
});

test("an admin pulls through connect, streamed progress and all", async (t) => {
  clientHome(t);
  const fake = await startFakeOllama({ name: "gpu1", models: [{ name: "llama3:latest" }] });
  t.after(() => fake.close());
  const proxy = await startProxy(t, [fake]);
  assert.equal((await login(proxy.url, proxy.adminToken)).code, 0);
  const door = await startConnect(t);
  const ollama = new Ollama({ host: door.url });

  const statuses: string[] = [];
  for await (const p of await ollama.pull({ model: "mistral", stream: true })) statuses.push(p.status);
  assert.deepEqual(statuses, ["pulling manifest", "success"]);
  assert.ok(fake.models.some((m) => m.name === "mistral:latest"));
});
