import assert from "node:assert/strict";
import { test } from "node:test";
import OpenAI, { PermissionDeniedError, toFile } from "openai";
import { openStore } from "../lib/store/open.js";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startLoggedProxy } from "./fixtures/logged-proxy.js";

// POST /v1/audio/transcriptions (Ollama: TranscriptionMiddleware) is a multipart upload whose
// `model` field names the model. The proxy routes it by that field like any inference — to the
// server that has the model, under the user's policy, logged — and passes the form on byte for
// byte. A model that lives on an external host cannot take an upload: a clear 400.

test("the openai SDK's transcription goes to the server with the model, the form untouched", async (t) => {
  const chat = await startFakeOllama({ name: "chat", models: [{ name: "llama3:latest" }] });
  const ears = await startFakeOllama({ name: "ears", models: [{ name: "whisper-large-v3:latest" }] });
  t.after(() => Promise.all([chat.close(), ears.close()]));
  const p = await startLoggedProxy(t, [chat, ears], {
    extra: {
      policies: { default: { models: ["*"] }, chatty: { models: ["llama3*"] } },
      external_hosts: { openai: { host: "127.0.0.1", port: 9, api_key_env: "NO_SUCH_KEY_VAR" } },
      model_config: { explicit_assignments: { "gpt-4o-transcribe": "openai" } },
    },
  });
  const openai = new OpenAI({ baseURL: `${p.url}/v1`, apiKey: p.userToken, maxRetries: 0 });
  const audio = Buffer.alloc(48_000, 7);

  const result = await openai.audio.transcriptions.create({
    model: "whisper-large-v3",
    file: await toFile(audio, "hello.wav", { type: "audio/wav" }),
  });
  assert.deepEqual(result, { text: "48000 bytes of audio/wav heard by whisper-large-v3:latest on ears" });
  const sent = ears.work().filter((r) => r.path === "/v1/audio/transcriptions");
  assert.equal(sent.length, 1);
  assert.deepEqual(chat.work(), [], "the server without the model is not asked");
  assert.match(String(sent[0]!.headers["content-type"]), /^multipart\/form-data; boundary=/);
  assert.equal(sent[0]!.headers.authorization, undefined);

  // Byte for byte: the form the client sent is the form the server got.
  const form = new FormData();
  form.set("model", "whisper-large-v3");
  form.set("response_format", "text");
  form.set("file", new Blob([audio], { type: "audio/ogg" }), "hello.ogg");
  const request = new Request(`${p.url}/v1/audio/transcriptions`, {
    method: "POST",
    body: form,
    headers: p.auth,
  });
  const raw = Buffer.from(await request.clone().arrayBuffer());
  const res = await fetch(request);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-ollama-proxy-server"), "ears");
  assert.equal(await res.text(), "48000 bytes of audio/ogg heard by whisper-large-v3:latest on ears");
  assert.ok(ears.work().at(-1)!.raw.equals(raw));

  // The policy applies to the form's model.
  const store = openStore(p.config.database);
  const chatty = store.users.create("chatty", { policy: "chatty" }).token;
  store.close();
  p.server.auth.refresh();
  const limited = new OpenAI({ baseURL: `${p.url}/v1`, apiKey: chatty, maxRetries: 0 });
  await assert.rejects(
    limited.audio.transcriptions.create({ model: "whisper-large-v3", file: await toFile(audio, "a.wav") }),
    (err: Error) =>
      err instanceof PermissionDeniedError && /model "whisper-large-v3" is not allowed/.test(err.message),
  );

  const external = await fetch(`${p.url}/v1/audio/transcriptions`, {
    method: "POST",
    body: (() => {
      const f = new FormData();
      f.set("model", "gpt-4o-transcribe");
      f.set("file", new Blob([audio]), "a.wav");
      return f;
    })(),
    headers: p.auth,
  });
  assert.equal(external.status, 400);
  assert.deepEqual(
    ((await external.json()) as { error: { message: string } }).error.message,
    'model "gpt-4o-transcribe" lives on external host "openai": uploads (audio transcription) are served by Ollama servers only',
  );
  assert.equal(ears.work().length, 2, "refusals reach no server");

  const rows = await p.waitForRows(4);
  assert.deepEqual(
    rows.map((r) => [r.path, r.model, r.server, r.status, r.bytes_in > 48_000]),
    [
      ["/v1/audio/transcriptions", "whisper-large-v3:latest", "ears", 200, true],
      ["/v1/audio/transcriptions", "whisper-large-v3:latest", "ears", 200, true],
      ["/v1/audio/transcriptions", "whisper-large-v3:latest", null, 403, true],
      ["/v1/audio/transcriptions", "gpt-4o-transcribe", null, 400, true],
    ],
  );
});
