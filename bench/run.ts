/**
 * `npm run bench`: ollama-proxy against a reference proxy (node:http + http-proxy-3), nginx and a
 * direct connection, in one run, on the same fake Ollama. Every target, the upstream and the
 * load generator are separate processes. Each phase starts fresh processes, warms them up, then
 * runs interleaved rounds (every scenario runs on every target before the next round, the
 * target order rotating), and the comparisons are computed per round, then medianed.
 *
 * Options (after `npm run bench --`):
 *   --quick               a short run for iteration (also BENCH_QUICK=1)
 *   --rounds N            rounds per phase (default 5; quick 2)
 *   --seconds S           length of one wrk measurement (default 2; quick 1; TTFB and 10 MB body: twice that)
 *   --streams N           concurrent slow streams (default 2000; quick 500)
 *   --big-streams N       the larger stream test (default: 10000 or what the open-file limit allows; 0 = skip)
 *   --only LIST           comma-separated phases (throughput, body, streams, big-streams, scheduling) or
 *                         scenarios (small-16, small-64, stream-50, ttfb, body-10mb, streams, streams-big)
 *   --no-nginx            leave nginx out even when it is installed
 *   --targets LIST        only these targets (direct, reference, nginx, ollama-proxy, ollama-proxy-nolog,
 *                         ollama-proxy-tls: HTTPS with a self-signed pair made by openssl; skipped without it;
 *                         ollama-proxy-policy: the user under a policy with every limit set)
 *   --profile             instead: CPU-profile ollama-proxy and the reference under the small 16-connection load
 *   --profile-seconds S   length of the profiled load (default 10)
 *   --keep                keep the temp folder (configs, logs, databases)
 */
import { execFileSync, spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { formatSummary, summarise } from "./cpuprofile.js";
import { type CheckResult, checks, checksTable, type Results, valuesTable } from "./report.js";
import { type Phase, type Sample, type Scenario, type Settings, scenarios, wrk } from "./scenarios.js";
import { runScheduling } from "./scheduling.js";
import { spread } from "./stats.js";
import {
  childFileLimit,
  direct,
  findNginx,
  hasOpenssl,
  LABELS,
  probe,
  ROOT,
  startFake,
  startNginx,
  startOllamaProxy,
  startReference,
  type Target,
  type TargetName,
} from "./targets.js";

const PHASES: readonly Phase[] = ["throughput", "body", "streams", "big-streams"];
const RESULTS_DIR = join(ROOT, "bench/results");

/** Everything started and not yet stopped, so that Ctrl-C leaves no process behind. */
const running = new Set<{ stop(): Promise<void> }>();

const log = (line: string) => process.stderr.write(`${line}\n`);

function options() {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: process.env.BENCH_QUICK === "1" },
      rounds: { type: "string" },
      seconds: { type: "string" },
      streams: { type: "string" },
      "big-streams": { type: "string" },
      only: { type: "string" },
      "no-nginx": { type: "boolean", default: false },
      targets: { type: "string" },
      profile: { type: "boolean", default: false },
      "profile-seconds": { type: "string" },
      keep: { type: "boolean", default: false },
    },
    allowPositionals: true,
  });
  return values;
}

function int(text: string | undefined, fallback: number, name: string): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name}: "${text}" is not a whole number`);
  return n;
}

function version(command: string, args: string[]): string {
  const r = spawnSync(command, args, { encoding: "utf8" });
  const text = `${r.stdout ?? ""}${r.stderr ?? ""}`;
  return /(\d+\.\d+\.\d+)/.exec(text)?.[1] ?? "?";
}

function gitCommit(): string {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], {
      cwd: ROOT,
      encoding: "utf8",
    }).trim();
    const dirty =
      execFileSync("git", ["status", "--porcelain"], { cwd: ROOT, encoding: "utf8" }).trim() !== "";
    return dirty ? `${head} (with uncommitted changes)` : head;
  } catch {
    return "unknown";
  }
}

async function startTarget(
  name: TargetName,
  upstream: string,
  dir: string,
  nginx: string | null,
  files: number,
) {
  switch (name) {
    case "reference":
      return startReference(upstream);
    case "nginx":
      return startNginx(nginx!, upstream, dir, files);
    case "ollama-proxy":
      return startOllamaProxy(upstream, dir, { requestLog: true });
    case "ollama-proxy-nolog":
      return startOllamaProxy(upstream, dir, { requestLog: false });
    case "ollama-proxy-tls":
      return startOllamaProxy(upstream, dir, { requestLog: true, tls: true });
    case "ollama-proxy-policy":
      return startOllamaProxy(upstream, dir, { requestLog: true, policy: true });
    case "direct":
      throw new Error("direct is the fake itself");
  }
}

function summaryOf(s: Sample): string {
  const v = s.values;
  const parts: string[] = [];
  if (v["rps"] !== undefined)
    parts.push(`${v["rps"].toFixed(0)}/s, ${v["cpuUsPerReq"]?.toFixed(0)} µs CPU each`);
  if (v["p50Ms"] !== undefined) parts.push(`p50 ${v["p50Ms"].toFixed(3)} ms`);
  if (v["p99Ms"] !== undefined) parts.push(`p99 ${v["p99Ms"].toFixed(3)} ms`);
  if (v["rssGrowthMB"] !== undefined) parts.push(`RSS +${v["rssGrowthMB"].toFixed(1)} MB`);
  if (v["kbPerStream"] !== undefined)
    parts.push(
      `${v["maxOpen"]} open at most, ${v["kbPerStream"].toFixed(1)} KB/stream, opened in ${v["openS"]?.toFixed(1)} s, streamed for ${v["streamS"]?.toFixed(1)} s`,
    );
  const first = (s.detail as { firstError?: string | null } | undefined)?.firstError;
  parts.push(`${v["errors"]} errors${first ? ` (first: ${first})` : ""}`);
  return parts.join(", ");
}

/** One phase: fresh processes, a warm-up, then interleaved rounds. */
async function runPhase(
  phase: Phase,
  list: Scenario[],
  s: Settings,
  dir: string,
  nginx: string | null,
  files: number,
  results: Results,
  only: readonly string[] | null,
  openssl: boolean,
): Promise<void> {
  const mine = list.filter((x) => x.phase === phase);
  if (mine.length === 0) return;
  const wanted = new Set(mine.flatMap((x) => x.targets).filter((t) => only === null || only.includes(t)));
  if (nginx === null) wanted.delete("nginx");
  if (!openssl) wanted.delete("ollama-proxy-tls");
  const phaseDir = join(dir, phase);
  mkdirSync(phaseDir, { recursive: true });
  const fake = await startFake();
  running.add(fake);
  const targets = new Map<TargetName, Target>();
  try {
    for (const name of wanted) {
      const t = name === "direct" ? direct(fake) : await startTarget(name, fake.url, phaseDir, nginx, files);
      running.add(t);
      targets.set(name, t);
      await probe(t);
    }
    log(`\n== ${phase}: ${[...targets.keys()].map((n) => LABELS[n]).join(", ")}`);
    for (const sc of mine) {
      for (const t of targets.values()) if (sc.targets.includes(t.name)) await sc.run(t, s, true);
    }
    const rounds = phase === "streams" || phase === "big-streams" ? s.streamRounds : s.rounds;
    for (let r = 0; r < rounds; r++) {
      for (const sc of mine) {
        const order = sc.targets.filter((n) => targets.has(n));
        // Rotated, and reversed every other round, so that no target always runs first, or
        // always right after the same neighbour (whose leftover GC or log flushing it would pay for).
        const k = r % order.length;
        const rotated = [...order.slice(k), ...order.slice(0, k)];
        if (r % 2 === 1) rotated.reverse();
        for (const name of rotated) {
          const sample = await sc.run(targets.get(name)!, s, false);
          results[sc.id] ??= {};
          const slot = results[sc.id]!;
          slot[name] ??= [];
          slot[name].push(sample);
          log(`[${phase} ${r + 1}/${rounds}] ${sc.id} ${LABELS[name]}: ${summaryOf(sample)}`);
        }
      }
    }
  } finally {
    for (const t of targets.values()) {
      await t.stop();
      running.delete(t);
    }
    await fake.stop();
    running.delete(fake);
  }
}

/** `--profile`: ollama-proxy and the reference under --cpu-prof, small requests at 16 connections. */
async function profile(seconds: number, dir: string): Promise<void> {
  const fake = await startFake();
  running.add(fake);
  const texts: string[] = [];
  try {
    for (const name of ["ollama-proxy", "reference"] as const) {
      const out = join(dir, `profile-${name}`);
      const nodeArgs = ["--cpu-prof", "--cpu-prof-dir", out, "--cpu-prof-interval", "250"];
      const t =
        name === "reference"
          ? await startReference(fake.url, nodeArgs)
          : await startOllamaProxy(fake.url, dir, { requestLog: true, nodeArgs });
      running.add(t);
      await probe(t);
      const body = JSON.stringify({ model: "bench", prompt: "Why is the sky blue?", stream: false });
      await wrk(t, { connections: 16, seconds: 2, body });
      // The profile counts only the measured load: start-up and warm-up are left out.
      const from = Number(process.hrtime.bigint() / 1000n);
      const run = await wrk(t, { connections: 16, seconds, body });
      const to = Number(process.hrtime.bigint() / 1000n);
      await t.stop();
      running.delete(t);
      const file = readdirSync(out).find((f) => f.endsWith(".cpuprofile"));
      if (file === undefined) throw new Error(`${name}: no .cpuprofile written in ${out}`);
      const kept = join(RESULTS_DIR, `${name}.cpuprofile`);
      copyFileSync(join(out, file), kept);
      const text = formatSummary(
        `${LABELS[name]} (${(run.requests / (run.duration_us / 1e6)).toFixed(0)} req/s under the profiler)`,
        summarise(kept, { window: [from, to] }),
        run.requests,
      );
      texts.push(text);
      process.stdout.write(`\n${text}\n`);
    }
  } finally {
    await fake.stop();
    running.delete(fake);
  }
  writeFileSync(join(RESULTS_DIR, "profile.txt"), `${texts.join("\n\n")}\n`);
  log(
    `\nprofiles: bench/results/ollama-proxy.cpuprofile, bench/results/reference.cpuprofile (open in Chrome DevTools or speedscope); summary: bench/results/profile.txt`,
  );
}

async function main(): Promise<number> {
  const o = options();
  const quick = o.quick === true;
  const files = childFileLimit();
  // A proxied stream holds two sockets (client and upstream). The reserve covers each process's
  // own descriptors and nginx's cache of idle upstream connections (keepalive 256), which count
  // against the same worker_connections table.
  const reserve = 600;
  const fitting = Math.floor((files - reserve) / 2);
  const bigDefault = quick ? 0 : Math.min(10_000, fitting);
  const bigWanted = int(o["big-streams"], bigDefault, "big-streams");
  const seconds = Math.max(1, int(o.seconds, quick ? 1 : 2, "seconds"));
  const s: Settings = {
    quick,
    rounds: Math.max(1, int(o.rounds, quick ? 2 : 5, "rounds")),
    seconds,
    // Time to first byte and 10 MB bodies give fewer samples per second: they run twice as long.
    longSeconds: 2 * seconds,
    warmupSeconds: 1,
    streams: int(o.streams, quick ? 500 : 2000, "streams"),
    bigStreams: null,
    streamRounds: 1,
  };
  const notes: string[] = [];
  if (bigWanted > 0) {
    s.bigStreams = Math.min(bigWanted, fitting);
    if (s.bigStreams <= s.streams) s.bigStreams = null;
  }
  if (s.bigStreams !== null && s.bigStreams < bigWanted) {
    notes.push(
      `${bigWanted.toLocaleString("en")} streams need ${(2 * bigWanted + reserve).toLocaleString("en")} open files per proxy; the limit here is ${files.toLocaleString("en")} (the hard limit: raising it needs root outside a container), so the large stream test ran ${s.bigStreams.toLocaleString("en")}`,
    );
  }

  const dir = mkdtempSync(join(tmpdir(), "olp-bench-"));
  mkdirSync(RESULTS_DIR, { recursive: true });
  const onSignal = () => {
    log("interrupted: stopping the bench's processes");
    void Promise.all([...running].map((r) => r.stop())).finally(() => {
      if (!o.keep) rmSync(dir, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  if (spawnSync("wrk", ["--version"]).error !== undefined) {
    log("wrk is not installed: `apt-get install wrk` (Debian/Ubuntu) or see https://github.com/wg/wrk");
    return 1;
  }
  try {
    if (o.profile) {
      await profile(Math.max(1, int(o["profile-seconds"], 10, "profile-seconds")), dir);
      return 0;
    }
    let nginx = o["no-nginx"] ? null : findNginx();
    if (nginx === null) {
      notes.push(
        o["no-nginx"]
          ? "nginx left out (--no-nginx)"
          : "nginx is not installed: skipped (apt-get install nginx)",
      );
      nginx = null;
    }
    const openssl = hasOpenssl();
    if (!openssl) notes.push("openssl is not installed: the HTTPS row is skipped (apt-get install openssl)");
    const requestLogWriter = existsSync(join(ROOT, "dist/request-log-worker.js"));
    if (!requestLogWriter) {
      notes.push(
        "this build has no request-log writer yet (no dist/request-log-worker.js): 'request log on vs off' compares two equal pipelines",
      );
    }
    const started = new Date();
    const cpu = cpus();
    const meta = {
      date: started.toISOString(),
      commit: gitCommit(),
      node: process.version,
      cpu: `${cpu.length} × ${cpu[0]?.model ?? "?"}`,
      memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
      loadAverageAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
      loadAverageAtEnd: [] as number[],
      nginx: nginx === null ? null : version(nginx, ["-v"]),
      wrk: version("wrk", ["--version"]),
      openFilesPerProcess: files,
      durationSeconds: 0,
    };
    const header = [
      `ollama-proxy bench ${meta.date} · commit ${meta.commit} · node ${meta.node} · ${meta.cpu} · ${meta.memoryGiB} GiB`,
      `load average at start ${meta.loadAverageAtStart.join(" ")} · nginx ${meta.nginx ?? "absent"} (1 worker) · wrk ${meta.wrk} (1 thread) · open files per process ${files}`,
      `${s.rounds} interleaved rounds × ${s.seconds} s (TTFB and 10 MB body: ${s.longSeconds} s) after a ${s.warmupSeconds} s warm-up; streams: ${s.streams.toLocaleString("en")}${s.bigStreams ? ` and ${s.bigStreams.toLocaleString("en")}` : ""}, ${s.streamRounds} round`,
    ].join("\n");
    log(header);
    for (const n of notes) log(`note: ${n}`);

    const all = scenarios(s);
    const only = o.only?.split(",").map((x) => x.trim());
    for (const name of only ?? []) {
      if (name !== "scheduling" && !all.some((x) => x.id === name || x.phase === name))
        throw new Error(`--only: "${name}" is neither a phase nor a scenario`);
    }
    const list = all.filter((x) => only === undefined || only.includes(x.id) || only.includes(x.phase));
    const results: Results = {};
    const targets = o.targets?.split(",").map((x) => x.trim()) ?? null;
    for (const name of targets ?? []) {
      if (!(name in LABELS)) throw new Error(`--targets: unknown target "${name}"`);
    }
    for (const phase of PHASES) await runPhase(phase, list, s, dir, nginx, files, results, targets, openssl);
    // Issue 12's cases: the scheduler off and on side by side (bench/scheduling.ts).
    const scheduling =
      only === undefined || only.includes("scheduling")
        ? await runScheduling({ dir, quick, log, running })
        : null;
    meta.loadAverageAtEnd = loadavg().map((x) => Math.round(x * 100) / 100);
    meta.durationSeconds = Math.round((Date.now() - started.getTime()) / 1000);

    const judged = checks(results, { streams: s.streams, bigStreams: s.bigStreams, requestLogWriter });
    const text = [
      "",
      header,
      `load average at end ${meta.loadAverageAtEnd.join(" ")} · took ${meta.durationSeconds} s`,
      "",
      ...(list.length > 0 ? [valuesTable(list, results), "", checksTable(judged)] : []),
      ...(scheduling !== null ? ["", scheduling.text] : []),
      ...(notes.length > 0 ? ["", ...notes.map((n) => `note: ${n}`)] : []),
      "",
    ].join("\n");
    process.stdout.write(text);
    writeFileSync(
      join(RESULTS_DIR, "latest.json"),
      `${JSON.stringify({ ...toJson(meta, s, notes, list, results, judged), scheduling: scheduling && { cases: scheduling.cases, checks: scheduling.checks } }, null, 2)}\n`,
    );
    writeFileSync(join(RESULTS_DIR, "latest.txt"), text);
    log("written: bench/results/latest.json, bench/results/latest.txt");
    // A failed target is a finding, not a broken run: the exit code stays 0.
    return 0;
  } finally {
    for (const r of running) await r.stop();
    if (o.keep) log(`kept: ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

function toJson(
  meta: object,
  settings: Settings,
  notes: string[],
  list: Scenario[],
  results: Results,
  judged: CheckResult[],
) {
  const scenariosOut: Record<string, unknown> = {};
  for (const sc of list) {
    const per: Record<string, unknown> = {};
    for (const [name, samples] of Object.entries(results[sc.id] ?? {})) {
      const keys = Object.keys(samples[0]?.values ?? {});
      per[name] = {
        median: Object.fromEntries(keys.map((k) => [k, spread(samples.map((x) => x.values[k]!)).median])),
        rounds: samples.map((x) => x.values),
        ...(samples.some((x) => x.detail !== undefined) ? { detail: samples.map((x) => x.detail) } : {}),
      };
    }
    scenariosOut[sc.id] = { title: sc.title, phase: sc.phase, targets: per };
  }
  return { meta, settings, notes, scenarios: scenariosOut, checks: judged };
}

process.exitCode = await main().catch((err: Error) => {
  log(`bench failed: ${err.message}`);
  return 1;
});
