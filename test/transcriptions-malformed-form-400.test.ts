import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startProxy } from "./helpers.js";

// A transcription upload is refused before it reaches a server when the proxy cannot tell its
// model: each malformed form gets 400 (413 past max_body_mb) with a message that says what is
// wrong, in OpenAI's shape (the path is under /v1).

const B = "XyZ-boundary";
const FORM = `multipart/form-data; boundary=${B}`;
const part = (headers: string, value: string) => `--${B}\r\n${headers}\r\n\r\n${value}\r\n`;
const file = part(
  'Content-Disposition: form-data; name="file"; filename="a.wav"\r\nContent-Type: audio/wav',
  "RIFF",
);

const CASES: { what: string; type: string | undefined; body: string; message: string }[] = [
  {
    what: "JSON instead of a form",
    type: "application/json",
    body: '{"model":"whisper"}',
    message: "invalid form: the Content-Type must be multipart/form-data with a boundary",
  },
  {
    what: "no boundary parameter",
    type: "multipart/form-data",
    body: part('Content-Disposition: form-data; name="model"', "whisper"),
    message: "invalid form: the Content-Type must be multipart/form-data with a boundary",
  },
  {
    what: "a boundary of 71 characters",
    type: `multipart/form-data; boundary=${"b".repeat(71)}`,
    body: "",
    message: "invalid form: the Content-Type must be multipart/form-data with a boundary",
  },
  {
    what: "a body without the boundary",
    type: FORM,
    body: "model=whisper&file=RIFF",
    message: "invalid form: no part starts with the form's boundary",
  },
  {
    what: "a part whose headers never end",
    type: FORM,
    body: `--${B}\r\nContent-Disposition: form-data; name="model"\r\n`,
    message: "invalid form: a part's headers do not end with a blank line",
  },
  {
    what: "a form cut before its closing boundary",
    type: FORM,
    body: `--${B}\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper`,
    message: "invalid form: the form ends before its closing boundary",
  },
  {
    what: "no model field",
    type: FORM,
    body: `${file}--${B}--\r\n`,
    message: "model is required",
  },
  {
    what: "a model only as a file",
    type: FORM,
    body: `${part('Content-Disposition: form-data; name="model"; filename="m.txt"', "whisper")}${file}--${B}--\r\n`,
    message: "model is required",
  },
  {
    what: "an empty model",
    type: FORM,
    body: `${part('Content-Disposition: form-data; name="model"', "")}${file}--${B}--\r\n`,
    message: "model is required",
  },
  {
    what: "a model name Ollama would refuse",
    type: FORM,
    body: `${part('Content-Disposition: form-data; name="model"', "bad model!")}${file}--${B}--\r\n`,
    message:
      'invalid model name "bad model!": the model part may contain only letters, digits, "_", "-" and ".", not U+0020',
  },
  {
    what: "a quoted-printable model",
    type: FORM,
    body: `${part('Content-Disposition: form-data; name="model"\r\nContent-Transfer-Encoding: quoted-printable', "whisper")}--${B}--\r\n`,
    message: "invalid form: the model field is quoted-printable",
  },
];

test("malformed transcription forms: 400 with what is wrong, nothing sent on", async (t) => {
  const ears = await startFakeOllama({ name: "ears", models: [{ name: "whisper:latest" }] });
  t.after(() => ears.close());
  const p = await startProxy(t, [ears], { extra: { limits: { max_body_mb: 1 } } });
  for (const c of CASES) {
    const headers: Record<string, string> = { ...p.auth };
    if (c.type !== undefined) headers["content-type"] = c.type;
    const res = await fetch(`${p.url}/v1/audio/transcriptions`, { method: "POST", headers, body: c.body });
    assert.equal(res.status, 400, c.what);
    assert.deepEqual(
      await res.json(),
      { error: { message: c.message, type: "invalid_request_error", code: "bad_request" } },
      c.what,
    );
  }

  const big = `${part('Content-Disposition: form-data; name="model"', "whisper")}${part(
    'Content-Disposition: form-data; name="file"; filename="a.wav"',
    "x".repeat(1_100_000),
  )}--${B}--\r\n`;
  const tooLarge = await fetch(`${p.url}/v1/audio/transcriptions`, {
    method: "POST",
    headers: { ...p.auth, "content-type": FORM },
    body: big,
  });
  assert.equal(tooLarge.status, 413);
  assert.equal(
    ((await tooLarge.json()) as { error: { message: string } }).error.message,
    "request body is larger than 1 MB",
  );

  assert.deepEqual(ears.work(), [], "no malformed form reached the server");

  // The same form, well made, goes through.
  const good = await fetch(`${p.url}/v1/audio/transcriptions`, {
    method: "POST",
    headers: { ...p.auth, "content-type": FORM },
    body: `${part('Content-Disposition: form-data; name="model"', "whisper")}${file}--${B}--\r\n`,
  });
  assert.equal(good.status, 200);
  assert.deepEqual(await good.json(), { text: "4 bytes of audio/wav heard by whisper:latest on ears" });
});
