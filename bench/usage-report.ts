// How fast `ollama-proxy usage` reads a big request log: generates N rows (default 2 million)
// over the last 30 days into a fresh database made by the product's own migrations, then runs
// the built CLI (`dist/cli.js`, as bin/ollama-proxy does) on it, each report three times in
// its own process, and prints the median wall time (process start to exit) and the largest
// peak RSS of each.
//
//   npm run build && npx tsc --noEmit false && node .build/bench/usage-report.js [rows] [--keep]
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import Database from "better-sqlite3";
import { RECORD_COLUMNS } from "../lib/log/request-record.js";
import { openStore } from "../lib/store/open.js";
import { ROOT } from "../test/helpers.js";

const ROWS = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 2_000_000);
const KEEP = process.argv.includes("--keep");
const RUNS = 3;
const DAY = 86_400_000;

const SCENARIOS: { name: string; args: string[] }[] = [
  { name: "usage --since 30d (by user, model)", args: ["--since", "30d"] },
  { name: "usage --since 30d --by day", args: ["--since", "30d", "--by", "day"] },
  { name: "usage --since 30d --by model --top 10", args: ["--since", "30d", "--by", "model", "--top", "10"] },
  {
    name: "usage --since 30d --by user,model,server --format csv",
    args: ["--since", "30d", "--by", "user,model,server", "--format", "csv"],
  },
  {
    name: "usage --since 30d --by hour --format json",
    args: ["--since", "30d", "--by", "hour", "--format", "json"],
  },
  { name: "usage --since 24h", args: ["--since", "24h"] },
  { name: "usage --since 30d --user user3", args: ["--since", "30d", "--user", "user3"] },
];

/** A deterministic pseudo-random sequence: the same rows every run. */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1_103_515_245 + 12_345) % 2_147_483_648;
    return s / 2_147_483_648;
  };
}

/**
 * Rows shaped like a busy fleet's month: 60 users (a few do most of the work), 25 models on
 * 4 servers, one probe in ten (monitoring's /health), 2% errors, durations from milliseconds
 * (embeddings) to minutes, token counts and rates where a generation has them.
 */
function generate(path: string, rows: number): void {
  const db = new Database(path);
  db.pragma("synchronous = OFF");
  const insert = db.prepare(
    `INSERT INTO request_log (${RECORD_COLUMNS.join(", ")}) VALUES (${RECORD_COLUMNS.map(() => "?").join(", ")})`,
  );
  const rnd = random(42);
  const users = Array.from({ length: 60 }, (_, i) => `user${i}`);
  const models = Array.from({ length: 25 }, (_, i) => `model${i}:${[7, 8, 13, 70][i % 4]}b`);
  const servers = ["gpu1", "gpu2", "gpu3", "gpu4"];
  const paths = ["/api/chat", "/api/chat", "/api/generate", "/v1/chat/completions", "/api/embed"];
  const now = Date.now();
  const batch = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const ts = Math.round(now - 30 * DAY + (i / rows) * 30 * DAY);
      const probe = rnd() < 0.1;
      const status = probe ? 200 : rnd() < 0.02 ? 500 : 200;
      const duration = probe ? rnd() * 2 : Math.exp(rnd() * 11);
      const tokens = !probe && status === 200;
      const row: Record<string, unknown> = {
        ts,
        request_id: `bench-${i}`,
        user_id: probe ? null : 1,
        user_name: probe ? null : users[Math.floor(rnd() * rnd() * users.length)],
        client: `10.0.0.${i % 250}`,
        method: probe ? "GET" : "POST",
        path: probe ? "/health" : paths[Math.floor(rnd() * paths.length)],
        model: probe ? null : models[Math.floor(rnd() * models.length)],
        server: probe ? null : servers[i % servers.length],
        status,
        attempts: 1,
        bytes_in: 800,
        bytes_out: 4000,
        overhead_ms: 0.3,
        headers_ms: duration / 10,
        ttft_ms: probe ? null : duration / 5,
        duration_ms: duration,
        prompt_tokens: tokens ? Math.floor(rnd() * 2000) : null,
        completion_tokens: tokens ? Math.floor(rnd() * 800) : null,
        tokens_per_s: tokens ? rnd() * 80 : null,
        eval_ms: tokens ? duration * 0.8 : null,
        load_ms: null,
        done_reason: tokens ? "stop" : null,
        error_code: status >= 400 ? "upstream_error" : null,
        error_message: null,
        client_aborted: 0,
      };
      insert.run(RECORD_COLUMNS.map((c) => row[c] ?? null));
    }
  });
  for (let from = 0; from < rows; from += 100_000) batch(from, Math.min(rows, from + 100_000));
  db.close();
}

/** Runs the built CLI in its own process; its wall time and peak RSS. */
async function runCli(args: string[]): Promise<{ ms: number; cpuMs: number; rssMb: number }> {
  const cli = pathToFileURL(join(ROOT, "dist/cli.js")).href;
  // The child reports its own peak RSS (getrusage's ru_maxrss) on stderr as it exits.
  const script = `import { main } from ${JSON.stringify(cli)};
const code = await main(process.argv.slice(1), { out: () => {}, err: (t) => process.stderr.write(t + "\\n") });
const u = process.resourceUsage();
process.stderr.write("MAXRSS " + u.maxRSS + " CPU " + (u.userCPUTime + u.systemCPUTime) + "\\n");
process.exit(code);`;
  const started = performance.now();
  const child = spawn(process.execPath, ["--input-type=module", "-e", script, "--", "usage", ...args], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  child.stderr.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const code = await new Promise<number>((resolve) => child.on("exit", (c) => resolve(c ?? -1)));
  const ms = performance.now() - started;
  const m = /MAXRSS (\d+) CPU (\d+)/.exec(err);
  if (code !== 0 || m === null) throw new Error(`usage ${args.join(" ")} exited ${code}:\n${err}`);
  return { ms, cpuMs: Number(m[2]) / 1000, rssMb: Number(m[1]) / 1024 };
}

const dir = mkdtempSync(join(tmpdir(), "olp-usage-bench-"));
const db = join(dir, "bench.sqlite3");
try {
  openStore(db).close();
  const t = performance.now();
  generate(db, ROWS);
  const generatedS = (performance.now() - t) / 1000;
  const sizeMb = statSync(db).size / 1e6;
  console.log(
    `${ROWS.toLocaleString("en-US")} rows over 30 days in ${generatedS.toFixed(0)} s; database ${sizeMb.toFixed(0)} MB`,
  );
  console.log("");
  // The empty report: what starting the CLI costs, included in every row below.
  const base = await runCli(["--since", "1m", "--database", db]);
  console.log(
    `CLI start and an empty report: ${(base.ms / 1000).toFixed(2)} s wall, ${(base.cpuMs / 1000).toFixed(2)} s CPU`,
  );
  console.log("");
  console.log("| report | wall (median of 3, whole process) | CPU, all threads | peak RSS |");
  console.log("|---|---:|---:|---:|");
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  for (const sc of SCENARIOS) {
    const runs: { ms: number; cpuMs: number; rssMb: number }[] = [];
    for (let i = 0; i < RUNS; i++) runs.push(await runCli([...sc.args, "--database", db]));
    const ms = median(runs.map((r) => r.ms));
    const cpu = median(runs.map((r) => r.cpuMs));
    const rss = Math.max(...runs.map((r) => r.rssMb));
    console.log(
      `| \`${sc.name}\` | ${(ms / 1000).toFixed(2)} s | ${(cpu / 1000).toFixed(2)} s | ${rss.toFixed(0)} MB |`,
    );
  }
} finally {
  if (KEEP) console.log(`\nkept ${db}`);
  else rmSync(dir, { recursive: true, force: true });
}
