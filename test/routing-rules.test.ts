import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import type { Config } from "../lib/config/types.js";
import { normalizeModel } from "../lib/model-name.js";
import { type Health, ServerState, type TagEntry } from "../lib/routing/server-state.js";
import { type ExternalState, nextCandidate, type Route, RoutingTable } from "../lib/routing/table.js";
import { tempDir, writeConfig } from "./helpers.js";

// Every rule of SPEC §6 against the routing table itself: a config, server states as the
// pollers would leave them, and a fixed clock. No server, no poller, no timing.
// (routing-proxy-follows-the-table.test.ts shows the proxy answers as the table says.)

const GB = 1_000_000_000;
/** The clock the table is built at; lists "read" before it are known, modelsAt 0 is "never listed". */
const NOW = Date.UTC(2026, 0, 1);

/** What the pollers learned about one server. */
interface Seen {
  health?: Health;
  /** Model name → size in GB, as /api/tags reported; absent = the server never listed its models. */
  models?: Record<string, number>;
  loaded?: string[];
  latencyMs?: number;
  inFlight?: number;
}

/** Loads a config section with these servers (never contacted) and `extra` keys. */
function configOf(
  t: TestContext,
  servers: Record<string, Record<string, unknown>>,
  extra: Record<string, unknown> = {},
): Config {
  const section: Record<string, unknown> = { servers: {}, logging: { dir: null }, ...extra };
  let port = 1;
  for (const [key, s] of Object.entries(servers))
    (section.servers as Record<string, unknown>)[key] = { host: "127.0.0.1", port: port++, ...s };
  return writeConfig(tempDir(t), section).config;
}

/** The state of each enabled server of `config` (as the fleet keeps them), as `seen` says. */
function statesOf(config: Config, seen: Record<string, Seen>): Map<string, ServerState> {
  const out = new Map<string, ServerState>();
  for (const sc of config.servers) {
    if (!sc.enabled) continue;
    const s = new ServerState(sc);
    const w = seen[sc.key] ?? {};
    s.health = w.health ?? "up";
    if (w.models !== undefined) {
      const models = new Map<string, TagEntry>();
      for (const [name, gb] of Object.entries(w.models))
        models.set(normalizeModel(name), { name, size: gb * GB, digest: name, raw: { name } });
      s.models = models;
      s.modelsAt = NOW - 1000;
    }
    s.loaded = new Map(
      (w.loaded ?? []).map((n) => [normalizeModel(n), { name: n, sizeVram: 0, raw: { name: n } }]),
    );
    s.latencyMs = w.latencyMs ?? 5;
    s.inFlight = w.inFlight ?? 0;
    s.agent.destroy();
    out.set(sc.key, s);
  }
  return out;
}

function tableOf(config: Config, states: Map<string, ServerState>, externals: ExternalState[] = []) {
  return new RoutingTable(config, [...states.values()], externals, NOW);
}

/** The full failover order of a route: what nextCandidate hands out, one request's tries in turn. */
function order(route: Route): string[] {
  assert.equal(route.kind, "ollama", "error" in route ? route.error.message : route.kind);
  if (route.kind !== "ollama") return [];
  const tried = new Set<ServerState>();
  for (let s = nextCandidate(route.tiers, tried); s !== null; s = nextCandidate(route.tiers, tried))
    tried.add(s);
  return [...tried].map((s) => s.key);
}

/** The 503 a route answers with: its message and Retry-After. */
function refusal(route: Route): { message: string; status: number; retryAfter: string | undefined } {
  assert.ok(route.kind === "error" || route.kind === "unavailable", `expected a refusal, got ${route.kind}`);
  return {
    message: route.error.message,
    status: route.error.status,
    retryAfter: route.error.headers?.["retry-after"],
  };
}

test("priority: the lower number goes first when several servers have the model", (t) => {
  // b comes first in the file but has the higher number.
  const config = configOf(t, { b: { priority: 2 }, a: { priority: 1 }, c: { priority: 3 } });
  const table = tableOf(
    config,
    statesOf(config, {
      a: { models: { llama3: 4 } },
      b: { models: { llama3: 4 } },
      c: { models: { llama3: 4 } },
    }),
  );
  assert.deepEqual(order(table.route("llama3")), ["a", "b", "c"]);
});

test("names are normalised: llama3, llama3:latest and LLAMA3 are one model", (t) => {
  const config = configOf(t, { a: {} });
  const table = tableOf(config, statesOf(config, { a: { models: { "llama3:latest": 4 } } }));
  for (const name of ["llama3", "llama3:latest"]) {
    const r = table.route(name);
    assert.equal(r.kind === "ollama" && r.haveModel, true, name);
    assert.equal(r.model, "llama3:latest");
  }
});

test("having the model beats priority: a server without it gets it only when nobody has it", (t) => {
  const config = configOf(t, { a: { priority: 1 }, b: { priority: 2 } });
  const table = tableOf(
    config,
    statesOf(config, { a: { models: { llama3: 4 } }, b: { models: { "qwen3:8b": 5 } } }),
  );
  assert.deepEqual(order(table.route("qwen3:8b")), ["b"]);
  assert.deepEqual(order(table.route("llama3")), ["a"]);
  // Nobody has it and every list is known: the servers that admit it, by priority (Ollama pulls or 404s).
  const nobody = table.route("never-heard-of-it");
  assert.deepEqual(order(nobody), ["a", "b"]);
  assert.equal(nobody.kind === "ollama" && nobody.haveModel, false);
});

test("memory: a server whose max_memory_gb is below the model's /api/tags size is not a candidate", (t) => {
  const config = configOf(t, {
    small: { priority: 1, max_memory_gb: 8 },
    large: { priority: 2, max_memory_gb: null },
  });
  const table = tableOf(
    config,
    statesOf(config, { small: { models: { "big:70b": 40 } }, large: { models: { "big:70b": 40 } } }),
  );
  assert.deepEqual(table.memoryNeed("big:70b"), { gb: 40, from: "size reported by /api/tags" });
  assert.deepEqual(order(table.route("big:70b")), ["large"]);
});

test("memory need: the size /api/tags reports, else overrides, else the first matching pattern, else the default", (t) => {
  const config = configOf(
    t,
    { small: { priority: 1, max_memory_gb: 8 }, large: { priority: 2, max_memory_gb: null } },
    {
      model_config: {
        memory_overrides: { "custom-model-70b": 40, "tagged:7b": 99 },
        memory_patterns: [
          { pattern: ".*-70b.*", memory_gb: 40 },
          { pattern: ".*-7b.*", memory_gb: 4.5 },
          { pattern: "^huge", memory_gb: 100 },
        ],
        default_memory_gb: 2,
      },
    },
  );
  const table = tableOf(
    config,
    statesOf(config, { small: { models: { "tagged:7b": 5 } }, large: { models: {} } }),
  );
  assert.deepEqual(table.memoryNeed("tagged:7b"), { gb: 5, from: "size reported by /api/tags" });
  assert.deepEqual(table.memoryNeed("custom-model-70b:latest"), {
    gb: 40,
    from: "model_config.memory_overrides",
  });
  assert.deepEqual(table.memoryNeed("mistral-7b:latest"), { gb: 4.5, from: 'memory_patterns ".*-7b.*"' });
  // The first match wins, and a pattern may match the name without ":latest".
  assert.deepEqual(table.memoryNeed("llama-70b-7b:latest"), { gb: 40, from: 'memory_patterns ".*-70b.*"' });
  assert.equal(table.memoryNeed("huge:latest").gb, 100);
  assert.deepEqual(table.memoryNeed("anything-else:latest"), {
    gb: 2,
    from: "model_config.default_memory_gb",
  });
  // Nobody has these: the servers they fit on get them.
  assert.deepEqual(order(table.route("mistral-7b")), ["small", "large"]);
  assert.deepEqual(order(table.route("custom-model-70b")), ["large"]);
  assert.deepEqual(order(table.route("llama-70b-instruct")), ["large"]);
});

test("memory: a model no live server can hold is refused with 503 and the size it needs", (t) => {
  const config = configOf(
    t,
    { small: { max_memory_gb: 8 } },
    { model_config: { memory_patterns: [{ pattern: ".*:70b", memory_gb: 40 }] } },
  );
  const table = tableOf(config, statesOf(config, { small: { models: {} } }));
  const r = refusal(table.route("llama3:70b"));
  assert.equal(r.status, 503);
  assert.equal(
    r.message,
    'no available server can run model "llama3:70b": it needs about 40 GB (memory_patterns ".*:70b") and every usable server\'s max_memory_gb is lower',
  );
});

test("among equal priorities the server with the model loaded goes first, and follows the load", (t) => {
  const config = configOf(t, { cold: { priority: 1 }, warm: { priority: 1 } });
  const seen = {
    cold: { models: { llama3: 4 } },
    warm: { models: { llama3: 4 }, loaded: ["llama3:latest"] },
  };
  assert.deepEqual(order(tableOf(config, statesOf(config, seen)).route("llama3")), ["warm", "cold"]);
  // The next snapshot after /api/ps says the model moved.
  const moved = { cold: { models: { llama3: 4 }, loaded: ["llama3"] }, warm: { models: { llama3: 4 } } };
  assert.deepEqual(order(tableOf(config, statesOf(config, moved)).route("llama3")), ["cold", "warm"]);
  // Loaded does not beat priority.
  const ranked = configOf(t, { first: { priority: 1 }, second: { priority: 2 } });
  const table = tableOf(
    ranked,
    statesOf(ranked, {
      first: { models: { llama3: 4 } },
      second: { models: { llama3: 4 }, loaded: ["llama3"] },
    }),
  );
  assert.deepEqual(order(table.route("llama3")), ["first", "second"]);
});

test("among equal servers the one with fewest requests in flight goes first, read per request", (t) => {
  const config = configOf(t, { a: { priority: 1 }, b: { priority: 1 }, c: { priority: 2 } });
  const states = statesOf(config, {
    a: { models: { llama3: 4 }, inFlight: 3 },
    b: { models: { llama3: 4 }, inFlight: 1 },
    c: { models: { llama3: 4 }, inFlight: 0 },
  });
  const route = tableOf(config, states).route("llama3");
  // In flight orders within a tier only: c, idle, still comes after the priority-1 pair.
  assert.deepEqual(order(route), ["b", "a", "c"]);
  // The counters are read when a request picks, not when the snapshot was built.
  states.get("b")!.inFlight = 5;
  assert.deepEqual(order(route), ["a", "b", "c"]);
  // Ten requests arriving together share the tier.
  states.get("a")!.inFlight = 0;
  states.get("b")!.inFlight = 0;
  const picks: string[] = [];
  for (let i = 0; i < 10; i++) {
    const s = nextCandidate(route.kind === "ollama" ? route.tiers : [], null)!;
    s.inFlight++;
    picks.push(s.key);
  }
  assert.deepEqual(
    { a: picks.filter((k) => k === "a").length, b: picks.filter((k) => k === "b").length },
    { a: 5, b: 5 },
  );
});

test("a slow server is used only when no fast one can take the model, whatever its priority", (t) => {
  const config = configOf(
    t,
    { slow: { priority: 1 }, fast: { priority: 2 } },
    { health: { slow_threshold_ms: 350 } },
  );
  const seen = {
    slow: { models: { llama3: 4 }, latencyMs: 700 },
    fast: { models: { llama3: 4 }, latencyMs: 5 },
  };
  assert.deepEqual(order(tableOf(config, statesOf(config, seen)).route("llama3")), ["fast", "slow"]);
  const fastDown = { ...seen, fast: { ...seen.fast, health: "down" as const } };
  assert.deepEqual(order(tableOf(config, statesOf(config, fastDown)).route("llama3")), ["slow"]);
  // A server not yet measured is not slow.
  const states = statesOf(config, seen);
  states.get("slow")!.latencyMs = null;
  assert.deepEqual(order(tableOf(config, states).route("llama3")), ["slow", "fast"]);
});

test("down and disabled servers are never candidates; a server not yet polled is", (t) => {
  const config = configOf(t, {
    a: { priority: 1 },
    b: { priority: 2 },
    off: { priority: 1, enabled: false },
    fresh: { priority: 3 },
  });
  const states = statesOf(config, {
    a: { models: { llama3: 4 }, health: "down" },
    b: { models: { llama3: 4 } },
    fresh: { models: { llama3: 4 }, health: "unknown" },
  });
  const [a, b, fresh] = ["a", "b", "fresh"].map((k) => states.get(k)!);
  const disabled = new ServerState(config.servers.find((s) => s.key === "off")!);
  disabled.agent.destroy();
  disabled.health = "up";
  disabled.models = b!.models;
  const table = new RoutingTable(config, [a!, b!, fresh!, disabled], [], NOW);
  assert.deepEqual(order(table.route("llama3")), ["b", "fresh"]);
});

test("failover: the next candidate skips servers tried and servers that went down since the snapshot", (t) => {
  const config = configOf(t, {
    a: { priority: 1 },
    b: { priority: 1 },
    c: { priority: 2 },
    d: { priority: 3 },
  });
  const states = statesOf(config, {
    a: { models: { llama3: 4 } },
    b: { models: { llama3: 4 }, inFlight: 1 },
    c: { models: { llama3: 4 } },
    d: { models: { llama3: 4 } },
  });
  const route = tableOf(config, states).route("llama3");
  assert.equal(route.kind, "ollama");
  if (route.kind !== "ollama") return;
  const tried = new Set<ServerState>();
  const pick = () => {
    const s = nextCandidate(route.tiers, tried);
    if (s !== null) tried.add(s);
    return s?.key ?? null;
  };
  assert.equal(pick(), "a");
  // a refused the connection: the forwarder marks it down; b is the rest of its tier.
  states.get("a")!.health = "down";
  assert.equal(pick(), "b");
  // c went down meanwhile (a poll, another request): skipped without a rebuilt snapshot.
  states.get("c")!.health = "down";
  assert.equal(pick(), "d");
  assert.equal(pick(), null);
  // A new request on the same snapshot does not try a again either.
  assert.equal(nextCandidate(route.tiers, null)?.key, "b");
});

test("explicit assignment wins over everything; a down target is a 503, never a silent fallback", (t) => {
  const config = configOf(
    t,
    { a: { priority: 1 }, b: { priority: 2, max_memory_gb: 1 } },
    { model_config: { explicit_assignments: { llama3: "b" } } },
  );
  const seen = { a: { models: { llama3: 4 } }, b: { models: {} } };
  const up = tableOf(config, statesOf(config, seen)).route("llama3:latest");
  assert.deepEqual(order(up), ["b"]);
  assert.equal(up.kind === "ollama" && up.explicit, true);
  const down = refusal(tableOf(config, statesOf(config, { ...seen, b: { health: "down" } })).route("llama3"));
  assert.deepEqual(down, {
    status: 503,
    message: 'model "llama3:latest" is assigned to server "b", which is down',
    retryAfter: "5",
  });
});

test("explicit assignment to an external host, usable or not, and to a name that is neither", (t) => {
  const config = configOf(
    t,
    { a: {} },
    {
      external_hosts: { openai: { host: "api.openai.com", api_key_env: "SOME_KEY" } },
      model_config: { explicit_assignments: { "gpt-4o": "openai", llama3: "nowhere" } },
    },
  );
  const host = config.externalHosts[0]!;
  const states = statesOf(config, { a: { models: { llama3: 4 } } });
  const usable = tableOf(config, states, [{ config: host, usable: true, reason: null }]).route("gpt-4o");
  assert.deepEqual(usable.kind === "external" && [usable.host.key, usable.hostUsable], ["openai", true]);
  const unusable = tableOf(config, states, [{ config: host, usable: false, reason: "no key" }]).route(
    "gpt-4o",
  );
  assert.equal(unusable.kind === "external" && unusable.hostUsable, false);
  assert.equal(
    refusal(tableOf(config, states).route("llama3")).message,
    'model "llama3:latest" is assigned to "nowhere", which is not an enabled server or external host',
  );
});

test("a model only on a down server is a 503 that names it, not a fallback to servers without it", (t) => {
  const config = configOf(t, { big: { priority: 1 }, mid: { priority: 2 }, spare: { priority: 3 } });
  const table = tableOf(
    config,
    statesOf(config, {
      big: { models: { llama3: 4 } },
      mid: { models: { "qwen2.5:14b": 9, llama3: 4 }, health: "down" },
      spare: { models: {}, health: "down" },
    }),
  );
  const route = table.route("qwen2.5:14b");
  assert.deepEqual(refusal(route), {
    status: 503,
    message: "qwen2.5:14b is on mid, which is down",
    retryAfter: "5",
  });
  // A pull is how the model gets onto a live server that fits it.
  assert.deepEqual(route.kind === "unavailable" && route.fallback.flat().map((s) => s.key), ["big"]);
  // A model the live servers have is unaffected.
  assert.deepEqual(order(table.route("llama3")), ["big"]);
});

test("a model on several down servers names them all", (t) => {
  const config = configOf(t, { a: {}, b: {}, c: {} });
  const table = tableOf(
    config,
    statesOf(config, {
      a: { models: { "qwen2.5:14b": 9 }, health: "down" },
      b: { models: { "qwen2.5:14b": 9 }, health: "down" },
      c: { models: {} },
    }),
  );
  assert.equal(refusal(table.route("qwen2.5:14b")).message, "qwen2.5:14b is on a and b, which are down");
});

test("a model only on servers too small for it is a 503 that names the server and its limit", (t) => {
  const config = configOf(t, { first: { priority: 1 }, second: { priority: 2, max_memory_gb: 4 } });
  const table = tableOf(
    config,
    statesOf(config, { first: { models: {} }, second: { models: { "mistral:7b": 4.1 } } }),
  );
  assert.deepEqual(refusal(table.route("mistral:7b")), {
    status: 503,
    message: "mistral:7b (4.1 GB) is only on second, whose max_memory_gb is 4",
    retryAfter: "5",
  });
});

test("too small and down together: each server with its own reason; too small wins for a server that is both", (t) => {
  const config = configOf(t, {
    a: { max_memory_gb: 4 },
    b: { max_memory_gb: 2 },
    mid: {},
    tiny: { max_memory_gb: 1 },
    free: {},
  });
  const table = tableOf(
    config,
    statesOf(config, {
      a: { models: { "qwen2.5:14b": 9 } },
      b: { models: { "qwen2.5:14b": 9 } },
      mid: { models: { "qwen2.5:14b": 9 }, health: "down" },
      tiny: { models: { "qwen2.5:14b": 9 }, health: "down" },
      free: { models: {} },
    }),
  );
  assert.equal(
    refusal(table.route("qwen2.5:14b")).message,
    "qwen2.5:14b (9 GB) is only on mid, which is down, and on a, b and tiny, whose max_memory_gb (4, 2, 1) is too small",
  );
});

test("a down server that never listed its models may have any model: 503, not a guess", (t) => {
  // The proxy started while mid was down: nothing says whether it has the model.
  const config = configOf(t, {
    big: { priority: 1 },
    mid: { priority: 2 },
    small: { priority: 3, max_memory_gb: 1 },
  });
  const states = statesOf(config, {
    big: { models: { llama3: 4 } },
    mid: { health: "down" },
    small: { health: "down" },
  });
  const table = tableOf(config, states);
  const route = table.route("qwen2.5:14b");
  // small never listed its models either, but the default estimate (8 GB) would not fit it.
  assert.deepEqual(refusal(route), {
    status: 503,
    message:
      "qwen2.5:14b is not on any server that is up; it may be on mid, which is down and has not listed its models",
    retryAfter: "5",
  });
  assert.deepEqual(route.kind === "unavailable" && route.fallback.flat().map((s) => s.key), ["big"]);
  // Once mid's list is known (here: without the model), the fallback to servers that admit it is back.
  states.get("mid")!.models = new Map();
  states.get("mid")!.modelsAt = NOW - 1000;
  assert.deepEqual(order(tableOf(config, states).route("qwen2.5:14b")), ["big"]);
});

test("with every server down the answer is that no server is available, whoever had the model", (t) => {
  const config = configOf(t, { a: {}, b: {}, c: {} });
  const table = tableOf(
    config,
    statesOf(config, {
      a: { health: "down" },
      b: { health: "down", models: {} },
      c: { health: "down", models: { llama3: 4 } },
    }),
  );
  for (const model of ["llama3", "never-heard-of-it"]) {
    assert.deepEqual(refusal(table.route(model)), {
      status: 503,
      message: "no Ollama server is available",
      retryAfter: "5",
    });
  }
});
