/**
 * The benchmark's scenarios: how each one loads a target and what it measures. Throughput is
 * measured with wrk (C, one thread, so the load generator costs little of the 2 cores); time to
 * first byte, large bodies and thousands of streams with bench/client.ts. Each load runs in its
 * own process.
 */
import { join } from "node:path";
import type { BodyJob, BodyResult, Job, StreamsJob, StreamsResult, TtfbJob, TtfbResult } from "./client.js";
import { RESULT_PREFIX } from "./common.js";
import { cpuUs } from "./proc.js";
import { quantile } from "./stats.js";
import { BUILT, ROOT, spawnRaised, type Target, type TargetName } from "./targets.js";

export interface Settings {
  quick: boolean;
  rounds: number;
  /** Length of one wrk measurement. */
  seconds: number;
  /** Length of one time-to-first-byte or large-body measurement (they need more samples). */
  longSeconds: number;
  warmupSeconds: number;
  streams: number;
  /** Size of the second, larger stream test; null when skipped. */
  bigStreams: number | null;
  streamRounds: number;
}

/** One measurement of one target: named numbers (always `errors`), plus raw samples for pooling. */
export interface Sample {
  values: Record<string, number>;
  /** Per-request samples (µs) for percentiles pooled over rounds. */
  raw?: number[];
  detail?: unknown;
}

export interface Metric {
  key: string;
  label: string;
  /** Digits after the point in the table. */
  digits: number;
}

export type Phase = "throughput" | "body" | "streams" | "big-streams";

export interface Scenario {
  id: string;
  title: string;
  phase: Phase;
  targets: readonly TargetName[];
  metrics: readonly Metric[];
  run(t: Target, s: Settings, warmup: boolean): Promise<Sample>;
}

const SMALL_BODY = JSON.stringify({ model: "bench", prompt: "Why is the sky blue?", stream: false });
const STREAM_BODY = JSON.stringify({ model: "bench", prompt: "Why is the sky blue?" });

const ALL: readonly TargetName[] = ["direct", "reference", "nginx", "ollama-proxy"];

interface WrkResult {
  requests: number;
  duration_us: number;
  bytes: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  latency_us: { p50: number; p90: number; p99: number; mean: number; max: number };
}

/**
 * Collects a child's stdout and resolves with its `BENCH_RESULT` line, parsed. A child still
 * running `limitMs` after its start is killed: the bench stops with what it has rather than hang.
 */
async function runForResult<T>(
  command: string,
  args: string[],
  limitMs: number,
  env?: NodeJS.ProcessEnv,
): Promise<T> {
  const child = spawnRaised(command, args, { env });
  const killer = setTimeout(() => child.kill("SIGKILL"), limitMs);
  let out = "";
  let err = "";
  child.stdout!.on("data", (c: Buffer) => {
    out += c.toString();
  });
  child.stderr!.on("data", (c: Buffer) => {
    if (err.length < 65_536) err += c.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  clearTimeout(killer);
  const line = out.split("\n").find((l) => l.startsWith(RESULT_PREFIX));
  if (code !== 0 || line === undefined) {
    throw new Error(`${command} ${args.join(" ")} exited with ${code} and no result:\n${err}${out}`);
  }
  return JSON.parse(line.slice(RESULT_PREFIX.length)) as T;
}

/** wrk with one thread and `connections` keep-alive connections, POSTing `body` for `seconds`. */
export function wrk(
  t: Target,
  opts: { connections: number; seconds: number; body: string; headers?: Record<string, string> },
): Promise<WrkResult> {
  const headers = { ...t.headers, ...opts.headers };
  return runForResult<WrkResult>(
    "wrk",
    [
      "-t1",
      `-c${opts.connections}`,
      `-d${opts.seconds}s`,
      "--timeout",
      "10s",
      "-s",
      join(ROOT, "bench/wrk-post.lua"),
      `${t.url}/api/generate`,
    ],
    opts.seconds * 1000 + 30_000,
    {
      ...process.env,
      BENCH_BODY: opts.body,
      BENCH_HEADERS: Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}`)
        .join("\n"),
    },
  );
}

function client<T>(job: Job): Promise<T> {
  const ms = job.mode === "streams" ? job.deadlineMs : job.durationMs;
  return runForResult<T>(process.execPath, [join(BUILT, "client.js"), JSON.stringify(job)], ms + 60_000);
}

/**
 * A wrk run, with the CPU time the target's processes used meanwhile: on a shared machine the
 * CPU time per request is far steadier than requests/s, which depend on what else runs.
 */
async function wrkSample(
  t: Target,
  opts: { connections: number; seconds: number; body: string; headers?: Record<string, string> },
): Promise<Sample> {
  const pids = t.pids();
  const cpu0 = cpuUs(pids);
  const r = await wrk(t, opts);
  const cpu = cpuUs(pids) - cpu0;
  const e = r.errors;
  return {
    values: {
      rps: r.requests / (r.duration_us / 1e6),
      p50Ms: r.latency_us.p50 / 1000,
      p99Ms: r.latency_us.p99 / 1000,
      cpuUsPerReq: r.requests === 0 ? Number.NaN : cpu / r.requests,
      requests: r.requests,
      errors: e.connect + e.read + e.write + e.status + e.timeout,
    },
    detail: r,
  };
}

const small = (connections: number, targets: readonly TargetName[]): Scenario => ({
  id: `small-${connections}`,
  title: `small POST /api/generate, stream:false, ${connections} connections`,
  phase: "throughput",
  targets,
  metrics: [
    { key: "rps", label: "requests/s", digits: 0 },
    { key: "p99Ms", label: "p99 latency ms", digits: 2 },
    { key: "cpuUsPerReq", label: "CPU µs per request", digits: 0 },
  ],
  run: (t, s, warmup) =>
    wrkSample(t, { connections, seconds: warmup ? s.warmupSeconds : s.seconds, body: SMALL_BODY }),
});

const streamed: Scenario = {
  id: "stream-50",
  title: "streamed /api/generate, 50 chunks, 16 connections",
  phase: "throughput",
  targets: ALL,
  metrics: [
    { key: "rps", label: "streams/s", digits: 0 },
    { key: "cpuUsPerReq", label: "CPU µs per stream", digits: 0 },
  ],
  run: (t, s, warmup) =>
    wrkSample(t, {
      connections: 16,
      seconds: warmup ? s.warmupSeconds : s.seconds,
      body: STREAM_BODY,
      headers: { "x-bench-chunks": "50", "x-bench-interval-ms": "0" },
    }),
};

const ttfb: Scenario = {
  id: "ttfb",
  title: "time to first byte, 20 chunks 20 ms apart, 8 connections",
  phase: "throughput",
  targets: [...ALL, "ollama-proxy-tls"],
  metrics: [
    { key: "p50Ms", label: "TTFB p50 ms", digits: 3 },
    { key: "p99Ms", label: "TTFB p99 ms", digits: 3 },
  ],
  run: async (t, s, warmup) => {
    const job: TtfbJob = {
      mode: "ttfb",
      url: t.url,
      ...(t.ca ? { ca: t.ca } : {}),
      path: "/api/generate",
      headers: { ...t.headers, "x-bench-chunks": "20", "x-bench-interval-ms": "20" },
      body: STREAM_BODY,
      connections: 8,
      durationMs: (warmup ? s.warmupSeconds : s.longSeconds) * 1000,
    };
    const r = await client<TtfbResult>(job);
    return {
      values: {
        p50Ms: quantile(r.ttfbUs, 0.5) / 1000,
        p99Ms: quantile(r.ttfbUs, 0.99) / 1000,
        requests: r.requests,
        errors: r.errors,
      },
      raw: r.ttfbUs,
      detail: { firstError: r.firstError },
    };
  },
};

const MB = 1024 * 1024;

const bigBody: Scenario = {
  id: "body-10mb",
  title: "10 MB request body, stream:false, 4 concurrent",
  phase: "body",
  targets: ALL,
  metrics: [
    { key: "p50Ms", label: "latency p50 ms", digits: 1 },
    { key: "rssGrowthMB", label: "RSS growth MB", digits: 1 },
  ],
  run: async (t, s, warmup) => {
    const job: BodyJob = {
      mode: "body",
      url: t.url,
      path: "/api/generate",
      headers: t.headers,
      bodyBytes: 10 * MB,
      connections: 4,
      durationMs: (warmup ? s.warmupSeconds : s.longSeconds) * 1000,
      pids: t.pids(),
    };
    const r = await client<BodyResult>(job);
    return {
      values: {
        p50Ms: quantile(r.latencyUs, 0.5) / 1000,
        p99Ms: quantile(r.latencyUs, 0.99) / 1000,
        rssGrowthMB: (r.rssPeak - r.rssBefore) / MB,
        requests: r.requests,
        errors: r.errors,
      },
      raw: r.latencyUs,
      detail: {
        rssBefore: r.rssBefore,
        rssPeak: r.rssPeak,
        peakMethod: r.peakMethod,
        firstError: r.firstError,
      },
    };
  },
};

/**
 * `n` streams of 50 chunks 100 ms apart, all at once: the fake holds every answer until the
 * n-th request has reached it, then they all stream together. The target's RSS is read when
 * the most are open. (Opened at a fixed rate instead, the first streams would end before the
 * last began whenever the target — or the shared machine — accepts slower than that rate.)
 */
export function slowStreams(n: number, phase: "streams" | "big-streams"): Scenario {
  return {
    id: phase === "streams" ? "streams" : "streams-big",
    title: `${n.toLocaleString("en")} concurrent streams, 50 chunks 100 ms apart`,
    phase,
    // The large test leaves out the direct connection: its time goes to the proxies.
    targets: phase === "streams" ? ALL : ALL.filter((t) => t !== "direct"),
    metrics: [
      { key: "errors", label: "errors", digits: 0 },
      { key: "maxOpen", label: "most open at once", digits: 0 },
      { key: "kbPerStream", label: "RSS KB per stream", digits: 1 },
      { key: "openS", label: "s to open all", digits: 1 },
      { key: "streamS", label: "s streaming (5 s unloaded)", digits: 1 },
    ],
    run: async (t, _s, warmup) => {
      const streams = warmup ? Math.min(200, n) : n;
      const chunks = warmup ? 5 : 50;
      const intervalMs = warmup ? 20 : 100;
      const job: StreamsJob = {
        mode: "streams",
        url: t.url,
        path: "/api/generate",
        headers: {
          ...t.headers,
          "x-bench-chunks": String(chunks),
          "x-bench-interval-ms": String(intervalMs),
        },
        body: STREAM_BODY,
        streams,
        chunks,
        connecting: 64,
        deadlineMs: 180_000,
        pids: t.pids(),
      };
      const r = await client<StreamsResult>(job);
      const errors = Object.values(r.errors).reduce((a, b) => a + b, 0);
      return {
        values: {
          errors,
          completed: r.completed,
          maxOpen: r.maxOpen,
          openAtSample: r.openAtSample,
          rssBeforeMB: r.rssBefore / MB,
          rssAtMaxMB: r.rssAtMax / MB,
          kbPerStream: r.openAtSample === 0 ? Number.NaN : (r.rssAtMax - r.rssBefore) / 1024 / r.openAtSample,
          openS: (r.sentMs ?? Number.NaN) / 1000,
          streamS: r.allOpenMs === null ? Number.NaN : (r.durationMs - r.allOpenMs) / 1000,
        },
        detail: r,
      };
    },
  };
}

export function scenarios(s: Settings): Scenario[] {
  const list = [
    small(16, [...ALL, "ollama-proxy-nolog", "ollama-proxy-tls", "ollama-proxy-policy"]),
    small(64, ALL),
    streamed,
    ttfb,
    bigBody,
    slowStreams(s.streams, "streams"),
  ];
  if (s.bigStreams !== null) list.push(slowStreams(s.bigStreams, "big-streams"));
  return list;
}
