import assert from "node:assert/strict";
import { test } from "node:test";
import { formField } from "../lib/http/form.js";

// The model of an upload is read from its form the way Ollama (Go's mime/multipart and
// FormValue) reads it, so that the proxy never routes, checks or logs another model than the
// one Ollama serves: the first part named `model` that is not a file, its line break before the
// next boundary not part of it.

const TYPE = "multipart/form-data; boundary=b0und";
const field = (body: string, type = TYPE) => formField(Buffer.from(body, "utf8"), type, "model");

test("the first non-file part named model, as Go's FormValue finds it", () => {
  assert.deepEqual(
    field('--b0und\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper\r\n--b0und--\r\n'),
    { value: "whisper" },
  );
  // A preamble, LF-only line ends, transport padding after a boundary, a header name in any case.
  assert.deepEqual(
    field(
      "this is a preamble\n--b0und  \ncontent-disposition: form-data; name=model\n\nwhisper:v3\n--b0und--",
    ),
    { value: "whisper:v3" },
  );
  // Two model fields: the first wins; a file part named model is a file, not the field.
  assert.deepEqual(
    field(
      '--b0und\r\nContent-Disposition: form-data; name="model"; filename="x"\r\n\r\nfile-model\r\n' +
        '--b0und\r\nContent-Disposition: form-data; name="model"\r\n\r\nfirst\r\n' +
        '--b0und\r\nContent-Disposition: form-data; name="model"\r\n\r\nsecond\r\n--b0und--\r\n',
    ),
    { value: "first" },
  );
  // Only a form-data disposition names a field; a quoted name may hold escapes and semicolons.
  assert.deepEqual(
    field(
      '--b0und\r\nContent-Disposition: attachment; name="model"\r\n\r\nnot-this\r\n' +
        '--b0und\r\nContent-Disposition: form-data; name="mo\\"del"\r\n\r\nnor-this\r\n' +
        '--b0und\r\nContent-Disposition: form-data; name="a;b"\r\n\r\nnor-that\r\n' +
        '--b0und\r\nContent-Disposition: form-data; name="model"\r\n\r\nthis\r\n--b0und--\r\n',
    ),
    { value: "this" },
  );
  // A line that starts like the boundary but goes on is content, as in Go.
  assert.deepEqual(
    field(
      '--b0und\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nx\r\n--b0undary-not\r\ny\r\n' +
        '--b0und\r\nContent-Disposition: form-data; name="model"\r\n\r\nafter\r\n--b0und--\r\n',
    ),
    { value: "after" },
  );
  // A quoted boundary parameter, the media type in any case.
  assert.deepEqual(
    field(
      '--a b\r\nContent-Disposition: form-data; name="model"\r\n\r\nq\r\n--a b--\r\n',
      'Multipart/Form-Data; boundary="a b"',
    ),
    { value: "q" },
  );
  // No model part at all.
  assert.equal(
    field(
      '--b0und\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nRIFF\r\n--b0und--\r\n',
    ),
    null,
  );
  // The value's own bytes: UTF-8, inner line breaks kept (the grammar check refuses them later).
  assert.deepEqual(
    field('--b0und\r\nContent-Disposition: form-data; name="model"\r\n\r\nmodèle\r\nx\r\n--b0und--'),
    {
      value: "modèle\r\nx",
    },
  );
  assert.deepEqual(
    field(`--b0und\r\nContent-Disposition: form-data; name="model"\r\n\r\n${"m".repeat(2000)}\r\n--b0und--`),
    { error: "invalid form: the model field is too long" },
  );
});
