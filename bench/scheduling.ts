/**
 * The scheduling phase of `npm run bench` (`--only scheduling`): issue 12's three cases, run
 * through `ollama-proxy serve` in front of a fake Ollama with a GPU's limits (its own process,
 * bench/fake-gpu-ollama.ts: 2 requests at a time per model, one model in memory, 600 ms per
 * load, 250 ms per request, strict arrival order), once with the scheduler off (`parallel`
 * unset: today's behaviour) and once on (`parallel: 2`, `max_loaded_models: 1`), side by side:
 *
 * - noisy neighbour: one user keeps 16 requests in flight, another sends one every 500 ms;
 * - two-model thrash: independent clients send one request for each of two models every 250 ms,
 *   80 in all;
 * - 30 at once: 30 requests arrive together, a third of the clients give up after 1 s (on:
 *   scheduler.max_queue 16, so the bound shows too).
 *
 * Every case starts a fresh fake and a fresh proxy, so that loads and busy time are its own.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import type { GpuStats } from "../test/fixtures/gpu-ollama.js";
import { median, quantile } from "./stats.js";
import { BUILT, type Listening, ROOT, startListening } from "./targets.js";

const SERVICE_MS = 250;
const LIMITS = { numParallel: 2, maxLoadedModels: 1, loadMs: 600, serviceMs: SERVICE_MS, maxQueue: 512 };
/** A client gives up after this long (the issue's "timed out"). */
const CLIENT_TIMEOUT_MS = 60_000;

export type Mode = "off" | "on";

/** One case's figures in one mode: named numbers. */
export type Figures = Record<string, number>;

export interface SchedulingResult {
  readonly cases: Record<string, { title: string; off: Figures; on: Figures }>;
  readonly checks: {
    label: string;
    goal: string;
    off: number;
    on: number;
    pass: { off: boolean; on: boolean };
  }[];
  readonly text: string;
}

interface Stack {
  readonly url: string;
  readonly tokens: Record<string, string>;
  gpu(): Promise<GpuStats>;
}

interface Reply {
  status: number;
  ms: number;
  /** timeout: the client gave up at CLIENT_TIMEOUT_MS; abandoned: it left on purpose. */
  failure: "timeout" | "abandoned" | "network" | null;
}

/** One non-streamed generate through the proxy. */
async function generate(
  s: Stack,
  user: string,
  model: string,
  opts: { abandonAfterMs?: number; tag?: string } = {},
): Promise<Reply> {
  const started = performance.now();
  const signals = [AbortSignal.timeout(CLIENT_TIMEOUT_MS)];
  if (opts.abandonAfterMs !== undefined) signals.push(AbortSignal.timeout(opts.abandonAfterMs));
  try {
    const res = await fetch(`${s.url}/api/generate`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${s.tokens[user]}`,
        "content-type": "application/json",
        ...(opts.tag ? { "x-client-tag": opts.tag } : {}),
      },
      body: JSON.stringify({ model, prompt: "Why is the sky blue?", stream: false }),
      signal: AbortSignal.any(signals),
    });
    await res.arrayBuffer();
    return { status: res.status, ms: performance.now() - started, failure: null };
  } catch (err) {
    const ms = performance.now() - started;
    const name = (err as Error).name;
    if (name !== "TimeoutError" && name !== "AbortError") return { status: 0, ms, failure: "network" };
    return {
      status: 0,
      ms,
      failure: opts.abandonAfterMs !== undefined && ms < CLIENT_TIMEOUT_MS ? "abandoned" : "timeout",
    };
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Starts the fake GPU and ollama-proxy in front of it, runs `body`, stops both. */
async function withStack<T>(
  dir: string,
  mode: Mode,
  fake: Case["fake"],
  scheduler: Record<string, number>,
  users: readonly string[],
  running: Set<{ stop(): Promise<void> }>,
  body: (s: Stack) => Promise<T>,
): Promise<T> {
  const upstream = await startListening(process.execPath, [
    join(BUILT, "fake-gpu-ollama.js"),
    JSON.stringify({ ...fake, limits: LIMITS }),
  ]);
  running.add(upstream);
  let proxy: Listening | null = null;
  try {
    mkdirSync(join(dir, "log"), { recursive: true });
    const file = join(dir, "config.yml");
    const { hostname, port } = new URL(upstream.url);
    const gpu: Record<string, unknown> = { host: hostname, port: Number(port), name: "gpu" };
    if (mode === "on") Object.assign(gpu, { parallel: LIMITS.numParallel, max_loaded_models: 1 });
    writeFileSync(
      file,
      stringify({
        bench: {
          proxy_port: 11434,
          bind: "127.0.0.1",
          servers: { gpu },
          health: { interval_seconds: 1 },
          logging: { level: "warn", dir: join(dir, "log"), request_log: false },
          database: join(dir, "bench.sqlite3"),
          ...(mode === "on" ? { scheduler } : {}),
        },
      }),
    );
    const cli = join(ROOT, "bin/ollama-proxy");
    const tokens: Record<string, string> = {};
    for (const user of users) {
      const out = execFileSync(
        process.execPath,
        [cli, "users", "create", user, "--json", "--config", file, "--env", "bench"],
        { cwd: ROOT, encoding: "utf8" },
      );
      tokens[user] = (JSON.parse(out) as { token: string }).token;
    }
    proxy = await startListening(process.execPath, [
      cli,
      "serve",
      "--config",
      file,
      "--env",
      "bench",
      "--port",
      "0",
    ]);
    running.add(proxy);
    const stack: Stack = {
      url: proxy.url,
      tokens,
      gpu: async () => (await (await fetch(`${upstream.url}/_gpu`)).json()) as GpuStats,
    };
    return await body(stack);
  } finally {
    if (proxy !== null) {
      await proxy.stop();
      running.delete(proxy);
    }
    await upstream.stop();
    running.delete(upstream);
  }
}

/** Noisy neighbour: 16 in flight from one user, one request every 500 ms from another. */
async function noisyNeighbour(s: Stack, seconds: number): Promise<Figures> {
  const before = await s.gpu();
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  let heavyErrors = 0;
  const heavy = Array.from({ length: 16 }, async () => {
    while (performance.now() < end) {
      const r = await generate(s, "heavy", "a");
      if (r.status !== 200) {
        heavyErrors++;
        await sleep(50);
      }
    }
  });
  const light: Promise<Reply>[] = [];
  for (let at = t0 + 1000; at < end; at += 500) {
    await sleep(at - performance.now());
    light.push(generate(s, "light", "a"));
  }
  const replies = await Promise.all(light);
  await Promise.all(heavy);
  const wall = performance.now() - t0;
  const after = await s.gpu();
  const ok = replies.filter((r) => r.status === 200).map((r) => r.ms);
  return {
    lightMedianMs: median(ok),
    lightP95Ms: quantile(ok, 0.95),
    busyPercent: (100 * (after.busyMs - before.busyMs)) / (LIMITS.numParallel * wall),
    errors: replies.length - ok.length + heavyErrors,
  };
}

/** Two models alternating: one request for each every 250 ms, from independent clients. */
async function twoModelThrash(s: Stack): Promise<Figures> {
  const before = await s.gpu();
  const t0 = performance.now();
  const sent: Promise<Reply>[] = [];
  for (let i = 0; i < 80; i++) {
    await sleep(t0 + i * 125 - performance.now());
    sent.push(generate(s, "client", i % 2 === 0 ? "a" : "b"));
  }
  const replies = await Promise.all(sent);
  const after = await s.gpu();
  const served = replies.filter((r) => r.status === 200);
  return {
    served: served.length,
    errors: replies.length - served.length,
    timedOut: replies.filter((r) => r.failure === "timeout").length,
    // Every request counts; one that timed out counts as the timeout.
    p95Ms: quantile(
      replies.map((r) => (r.status === 200 ? r.ms : CLIENT_TIMEOUT_MS)),
      0.95,
    ),
    modelLoads: after.loads - before.loads,
  };
}

/** 30 at once, every third client gives up after 1 s. */
async function burst(s: Stack): Promise<Figures> {
  const replies = await Promise.all(
    Array.from({ length: 30 }, (_, i) =>
      i % 3 === 2
        ? generate(s, "client", "a", { abandonAfterMs: 1000, tag: "abandoning" })
        : generate(s, "client", "a", { tag: "staying" }),
    ),
  );
  // The proxy may still be passing an abandoned request on: give it a moment before counting.
  await sleep(2 * SERVICE_MS);
  const gpu = await s.gpu();
  const refused = replies.filter((r) => r.status === 503);
  const served = replies.filter((r) => r.status === 200);
  return {
    reachedServer: gpu.received,
    abandonedReachedServer: gpu.receivedByTag["abandoning"] ?? 0,
    refused503: refused.length,
    slowest503Ms: refused.length === 0 ? 0 : Math.max(...refused.map((r) => r.ms)),
    served: served.length,
    servedP95Ms: quantile(
      served.map((r) => r.ms),
      0.95,
    ),
    errors: replies.filter((r) => r.status !== 200 && r.status !== 503 && r.failure !== "abandoned").length,
  };
}

interface Case {
  readonly id: string;
  readonly title: string;
  readonly fake: { readonly models: readonly string[]; readonly loaded: readonly string[] };
  /** The scheduler section of the "on" config. */
  readonly scheduler: Record<string, number>;
  readonly users: readonly string[];
  run(s: Stack, quick: boolean): Promise<Figures>;
}

const CASES: readonly Case[] = [
  {
    id: "noisy-neighbour",
    title: "noisy neighbour: 16 in flight vs one request per 500 ms",
    fake: { models: ["a"], loaded: ["a"] },
    scheduler: {},
    users: ["heavy", "light"],
    run: (s: Stack, quick: boolean) => noisyNeighbour(s, quick ? 6 : 12),
  },
  {
    id: "two-model-thrash",
    title: "two-model thrash: one request per model every 250 ms, 80 in all",
    fake: { models: ["a", "b"], loaded: [] },
    scheduler: {},
    users: ["client"],
    run: (s: Stack) => twoModelThrash(s),
  },
  {
    id: "burst",
    title: "30 at once, a third give up after 1 s (on: max_queue 16)",
    fake: { models: ["a"], loaded: ["a"] },
    scheduler: { max_queue: 16 },
    users: ["client"],
    run: (s: Stack) => burst(s),
  },
];

/** Rows of the side-by-side table: case, figure, label, digits, and the issue's target for it. */
const ROWS: readonly {
  case: string;
  key: string;
  label: string;
  digits: number;
  goal?: [string, (v: number) => boolean];
}[] = [
  { case: "noisy-neighbour", key: "lightMedianMs", label: "light user median, ms", digits: 0 },
  {
    case: "noisy-neighbour",
    key: "lightP95Ms",
    label: "light user p95, ms",
    digits: 0,
    goal: ["≤ 650", (v) => v <= 650],
  },
  {
    case: "noisy-neighbour",
    key: "busyPercent",
    label: "GPU busy, %",
    digits: 1,
    goal: ["≥ 90", (v) => v >= 90],
  },
  { case: "noisy-neighbour", key: "errors", label: "errors", digits: 0 },
  {
    case: "two-model-thrash",
    key: "served",
    label: "served of 80",
    digits: 0,
    goal: ["= 80", (v) => v === 80],
  },
  {
    case: "two-model-thrash",
    key: "errors",
    label: "errors (timed out at 60 s among them)",
    digits: 0,
    goal: ["= 0", (v) => v === 0],
  },
  { case: "two-model-thrash", key: "p95Ms", label: "p95, ms", digits: 0, goal: ["≤ 5000", (v) => v <= 5000] },
  {
    case: "two-model-thrash",
    key: "modelLoads",
    label: "model loads",
    digits: 0,
    goal: ["≤ 12", (v) => v <= 12],
  },
  { case: "burst", key: "reachedServer", label: "requests that reached Ollama", digits: 0 },
  { case: "burst", key: "abandonedReachedServer", label: "of the 10 abandoned, reached Ollama", digits: 0 },
  { case: "burst", key: "refused503", label: "503 (queue full)", digits: 0 },
  { case: "burst", key: "slowest503Ms", label: "slowest 503, ms", digits: 0 },
  { case: "burst", key: "served", label: "served", digits: 0 },
  { case: "burst", key: "servedP95Ms", label: "served p95, ms", digits: 0 },
  { case: "burst", key: "errors", label: "other errors", digits: 0 },
];

/** Runs every case off, then on, and lays the figures out side by side. */
export async function runScheduling(opts: {
  dir: string;
  quick: boolean;
  log: (line: string) => void;
  running: Set<{ stop(): Promise<void> }>;
}): Promise<SchedulingResult> {
  const cases: Record<string, { title: string; off: Figures; on: Figures }> = {};
  for (const c of CASES) {
    const figures: Partial<Record<Mode, Figures>> = {};
    for (const mode of ["off", "on"] as const) {
      const dir = join(opts.dir, "scheduling", `${c.id}-${mode}`);
      mkdirSync(dir, { recursive: true });
      const f = await withStack(dir, mode, c.fake, c.scheduler, c.users, opts.running, (s) =>
        c.run(s, opts.quick),
      );
      figures[mode] = f;
      opts.log(
        `[scheduling] ${c.id} ${mode}: ${Object.entries(f)
          .map(([k, v]) => `${k} ${Math.round(v * 10) / 10}`)
          .join(", ")}`,
      );
    }
    cases[c.id] = { title: c.title, off: figures.off!, on: figures.on! };
  }
  const checks = ROWS.filter((r) => r.goal !== undefined).map((r) => {
    const [goal, ok] = r.goal!;
    const off = cases[r.case]!.off[r.key]!;
    const on = cases[r.case]!.on[r.key]!;
    return { label: `${r.case}: ${r.label}`, goal, off, on, pass: { off: ok(off), on: ok(on) } };
  });
  return { cases, checks, text: table(cases) };
}

function table(cases: Record<string, { title: string; off: Figures; on: Figures }>): string {
  const fmt = (v: number | undefined, digits: number) =>
    v === undefined || Number.isNaN(v) ? "—" : v.toFixed(digits);
  const lines = [
    "scheduling (issue 12): ollama-proxy serve in front of a GPU-limited fake Ollama (2 per model, 1 model in memory, 600 ms load, 250 ms request)",
    "off = servers.gpu.parallel unset (today's behaviour); on = parallel 2, max_loaded_models 1",
    "",
    `${"".padEnd(48)}${"off".padStart(10)}${"on".padStart(10)}   target   off   on`,
  ];
  let last = "";
  for (const r of ROWS) {
    const c = cases[r.case]!;
    if (r.case !== last) {
      lines.push(c.title);
      last = r.case;
    }
    const off = c.off[r.key];
    const on = c.on[r.key];
    const judged = r.goal
      ? `   ${r.goal[0].padEnd(8)} ${(r.goal[1](off!) ? "PASS" : "FAIL").padEnd(5)} ${r.goal[1](on!) ? "PASS" : "FAIL"}`
      : "";
    lines.push(
      `  ${r.label.padEnd(46)}${fmt(off, r.digits).padStart(10)}${fmt(on, r.digits).padStart(10)}${judged}`,
    );
  }
  return lines.join("\n");
}
