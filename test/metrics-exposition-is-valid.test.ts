import assert from "node:assert/strict";
import { test } from "node:test";
import { startFakeOllama } from "./fixtures/fake-ollama.js";
import { startLoggedProxy } from "./fixtures/logged-proxy.js";
import { post, waitFor } from "./helpers.js";

/** One sample line of the exposition format. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A family: its # TYPE and its samples. */
interface Family {
  type: string;
  help: string | null;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

/**
 * A strict parser of the Prometheus text format 0.0.4: HELP/TYPE once per family and before
 * its samples, a family's samples together, label values with only the \\ \" \n escapes, no
 * duplicate series, histograms with cumulative buckets ending in +Inf = _count. Throws on
 * anything else.
 */
function parseExposition(text: string): Map<string, Family> {
  assert.ok(text.endsWith("\n"), "the body ends with a newline");
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  let current: string | null = null;
  const familyOf = (sample: string) => {
    for (const suffix of ["_bucket", "_sum", "_count", ""]) {
      if (!sample.endsWith(suffix)) continue;
      const base = sample.slice(0, sample.length - suffix.length);
      const f = families.get(base);
      if (f && (suffix === "" || f.type === "histogram" || f.type === "summary")) return base;
    }
    throw new Error(`sample ${sample} has no # TYPE before it`);
  };
  for (const [i, line] of text.slice(0, -1).split("\n").entries()) {
    const where = `line ${i + 1}: ${line}`;
    if (line.startsWith("#")) {
      const m = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
      if (!m) continue; // a plain comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      assert.match(name, NAME, where);
      const f = families.get(name) ?? { type: "untyped", help: null, samples: [] };
      if (kind === "TYPE") {
        assert.ok(TYPES.has(rest), `${where}: unknown type`);
        assert.equal(f.samples.length, 0, `${where}: TYPE after samples`);
        assert.ok(!families.has(name) || families.get(name)!.help !== null, `${where}: second TYPE`);
        f.type = rest;
      } else {
        assert.equal(f.help, null, `${where}: second HELP`);
        f.help = rest;
      }
      families.set(name, f);
      current = name;
      continue;
    }
    if (line === "") continue; // the format ignores empty lines
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(line);
    assert.ok(m, `${where}: not a sample`);
    const [, name, labelText, valueText] = m as unknown as [string, string, string | undefined, string];
    const labels: Record<string, string> = {};
    if (labelText !== undefined && labelText !== "") {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\\\|\\"|\\n)*)"(,|$)/gy;
      let end = 0;
      for (let lm = re.exec(labelText); lm !== null; lm = re.exec(labelText)) {
        const [, ln, lv] = lm as unknown as [string, string, string];
        assert.match(ln, LABEL, where);
        assert.ok(!(ln in labels), `${where}: label ${ln} twice`);
        labels[ln] = lv.replace(/\\(\\|"|n)/g, (_, c: string) => (c === "n" ? "\n" : c));
        end = re.lastIndex;
        if (end === labelText.length) break;
      }
      assert.equal(end, labelText.length, `${where}: bad label set`);
    }
    assert.ok(/^(?:[-+]?(?:\d+\.?\d*(?:e[-+]?\d+)?|\.\d+)|[-+]Inf|NaN)$/i.test(valueText), `${where}: value`);
    const value = valueText === "+Inf" ? Infinity : valueText === "-Inf" ? -Infinity : Number(valueText);
    const family = familyOf(name);
    assert.equal(family, current, `${where}: samples of ${family} are not together`);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    assert.ok(!seen.has(key), `${where}: duplicate series`);
    seen.add(key);
    families.get(family)!.samples.push({ name, labels, value });
  }
  for (const [name, f] of families) {
    if (f.type !== "histogram") continue;
    const series = new Map<string, Sample[]>();
    for (const s of f.samples.filter((x) => x.name === `${name}_bucket`)) {
      const { le, ...rest } = s.labels;
      assert.ok(le !== undefined, `${name}: bucket without le`);
      const k = JSON.stringify(Object.entries(rest).sort());
      series.set(k, [...(series.get(k) ?? []), s]);
    }
    for (const [k, buckets] of series) {
      const values = buckets.map((b) => b.value);
      assert.deepEqual(
        values,
        [...values].sort((a, b) => a - b),
        `${name}${k}: buckets not cumulative`,
      );
      const inf = buckets.at(-1)!;
      assert.equal(inf.labels.le, "+Inf", `${name}${k}: last bucket is not +Inf`);
      const count = f.samples.find(
        (s) => s.name === `${name}_count` && JSON.stringify(Object.entries(s.labels).sort()) === k,
      );
      assert.equal(count?.value, inf.value, `${name}${k}: +Inf bucket != _count`);
    }
  }
  return families;
}

const value = (fams: Map<string, Family>, name: string, labels: Record<string, string> = {}) =>
  fams
    .get(name.replace(/_(count|sum|bucket)$/, ""))
    ?.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    ?.value;

test("/metrics is valid exposition format with bounded labels and scrape-time gauges", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1", models: [{ name: "llama3:latest" }] });
  t.after(() => backend.close());
  const proxy = await startLoggedProxy(t, [backend], {
    extra: {
      external_hosts: { openai: { host: "127.0.0.1", port: 9, api_key_env: "NO_SUCH_KEY_VAR" } },
      model_config: { explicit_assignments: { "gpt-4o": "openai" } },
    },
  });
  const gen = await post(
    `${proxy.url}/api/generate`,
    { model: "llama3", prompt: "x", stream: false },
    proxy.auth,
  );
  assert.equal(gen.status, 200);
  // Junk names: each a 404 from the backend, none a label of its own. (Names outside Ollama's
  // grammar — quotes, backslashes, newlines — never get this far: 400 at the door.)
  for (let i = 0; i < 40; i++) {
    const r = await post(
      `${proxy.url}/api/generate`,
      { model: `junk-${i}_x.y:z-${i}`, prompt: "x" },
      proxy.auth,
    );
    assert.equal(r.status, 404);
  }
  const assigned = await post(`${proxy.url}/api/chat`, { model: "gpt-4o", messages: [] }, proxy.auth);
  assert.equal(assigned.status, 503);
  // A stream held open by the backend: in flight at scrape time.
  backend.behaviour.stallAfterChunks = 1;
  const held = new AbortController();
  const stalled = await fetch(`${proxy.url}/api/generate`, {
    method: "POST",
    headers: proxy.auth,
    body: JSON.stringify({ model: "llama3", prompt: "x" }),
    signal: held.signal,
  });
  assert.equal(stalled.status, 200);

  const res = await fetch(`${proxy.url}/metrics`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const fams = parseExposition(await res.text());

  assert.equal(fams.get("ollama_proxy_requests_total")?.type, "counter");
  assert.equal(
    value(fams, "ollama_proxy_requests_total", { status: "200", server: "gpu1", model: "llama3:latest" }),
    1,
  );
  assert.equal(
    value(fams, "ollama_proxy_requests_total", { status: "404", server: "gpu1", model: "other" }),
    40,
  );
  assert.equal(
    value(fams, "ollama_proxy_requests_total", { status: "503", server: "none", model: "gpt-4o" }),
    1,
  );
  const models = new Set(fams.get("ollama_proxy_requests_total")!.samples.map((s) => s.labels.model));
  assert.deepEqual([...models].sort(), ["gpt-4o", "llama3:latest", "other"]);

  assert.equal(value(fams, "ollama_proxy_in_flight_requests", { server: "gpu1" }), 1);
  assert.equal(value(fams, "ollama_proxy_server_up", { server: "gpu1" }), 1);
  assert.equal(value(fams, "ollama_proxy_external_host_usable", { host: "openai" }), 0);
  assert.equal(
    value(fams, "ollama_proxy_prompt_tokens_total", { server: "gpu1", model: "llama3:latest" }),
    7,
  );
  assert.equal(
    value(fams, "ollama_proxy_completion_tokens_total", { server: "gpu1", model: "llama3:latest" }),
    3,
  );
  assert.equal(fams.get("ollama_proxy_request_duration_seconds")?.type, "histogram");
  assert.equal(
    value(fams, "ollama_proxy_request_duration_seconds_count", { server: "gpu1", model: "other" }),
    40,
  );
  assert.equal(fams.get("ollama_proxy_time_to_first_token_seconds")?.type, "histogram");
  assert.equal(
    value(fams, "ollama_proxy_time_to_first_token_seconds_count", { server: "gpu1", model: "llama3:latest" }),
    1,
  );
  assert.equal(value(fams, "ollama_proxy_request_log_dropped_total"), 0);
  assert.equal(fams.get("ollama_proxy_request_log_dropped_total")?.type, "counter");
  assert.ok(fams.has("process_cpu_seconds_total"));

  // Once the stream ends the gauge is back to 0 at the next scrape.
  held.abort();
  await waitFor("the held stream to leave the fleet's in-flight count", async () => {
    const again = parseExposition(await (await fetch(`${proxy.url}/metrics`)).text());
    return value(again, "ollama_proxy_in_flight_requests", { server: "gpu1" }) === 0;
  });
});

test("/metrics: a token when configured, 404 when disabled, in the Ollama error shape", async (t) => {
  const backend = await startFakeOllama({ name: "gpu1" });
  t.after(() => backend.close());
  const guarded = await startLoggedProxy(t, [backend], { extra: { metrics: { token: "scrape-secret" } } });
  const refused = await fetch(`${guarded.url}/metrics`, { headers: { authorization: "Bearer wrong" } });
  assert.equal(refused.status, 401);
  assert.match(refused.headers.get("www-authenticate") ?? "", /^Bearer/);
  assert.deepEqual(await refused.json(), { error: "unauthorized: /metrics needs the metrics token" });
  const ok = await fetch(`${guarded.url}/metrics`, { headers: { authorization: "Bearer scrape-secret" } });
  assert.equal(ok.status, 200);
  parseExposition(await ok.text());

  const off = await startLoggedProxy(t, [backend], { extra: { metrics: { enabled: false } } });
  const gone = await fetch(`${off.url}/metrics`);
  assert.equal(gone.status, 404);
  assert.deepEqual(await gone.json(), { error: "metrics are disabled in the config" });
  assert.equal((await fetch(`${off.url}/health`)).status, 200);
});

test("the strict parser refuses what Prometheus would refuse", () => {
  const bad = [
    "x 1", // no newline at the end
    '# TYPE x counter\nx{a="1"} 1\nx{a="1"} 2\n', // duplicate series
    "# TYPE x gauge\nx{a=1} 1\n", // unquoted label value
    "# TYPE x gauge\nx 1 2 3\n", // junk after the timestamp
    "y 1\n", // no TYPE
    '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1\n', // not cumulative
  ];
  for (const text of bad) assert.throws(() => parseExposition(text), text);
});
