/**
 * How fast ModelScanner reads whole bodies, in µs per MB, next to how long Node takes to
 * receive the same body over loopback HTTP. The scanner reads every body to its end (a
 * duplicate "model" key may come last), so it must cost far less than receiving it.
 *
 *   npm run test:build && node .build/bench/peek-scan.js [path/to/peek.js ...]
 *
 * Paths measure other builds of the scanner side by side (an older one answers `result()`).
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";

interface Scanner {
  push(chunk: Uint8Array): unknown;
  finish?(): unknown;
  result?(): unknown;
}
type ScannerClass = new (keys: readonly string[]) => Scanner;

const CHUNK = 64 * 1024; // what a socket read hands over
const RUNS = 15;

const SMALL_CHAT = {
  model: "qwen2.5:7b-instruct",
  messages: [
    { role: "system", content: "You are a helpful assistant." },
    { role: "user", content: "Write a haiku about GPUs." },
  ],
  stream: true,
  temperature: 0.2,
  max_tokens: 256,
};

function bodies(): { name: string; body: Buffer }[] {
  const image = randomBytes(7.5 * 1024 * 1024).toString("base64"); // 10 MB of base64
  const messages = Array.from({ length: 40_000 }, (_, i) => ({
    role: i % 2 ? "assistant" : "user",
    content: `message ${i}: "quoted", {braces} [brackets] \\ tab\t newline\n ü 🦙 ${"x".repeat(160)}`,
  }));
  return [
    {
      name: "image upload, model first",
      body: Buffer.from(JSON.stringify({ model: "llava:7b", prompt: "what is this?", images: [image] })),
    },
    {
      name: "image upload, model last",
      body: Buffer.from(JSON.stringify({ prompt: "what is this?", images: [image], model: "llava:7b" })),
    },
    {
      name: "chat history, model last",
      body: Buffer.from(JSON.stringify({ messages, stream: true, model: "llama3.2" })),
    },
    {
      name: "chat history, pretty-printed",
      body: Buffer.from(JSON.stringify({ model: "llama3.2", messages, stream: true }, null, 2)),
    },
  ];
}

/** CPU time (ns) of one scan: on a machine shared with other work, wall time would measure them. */
function scanOnce(Scanner: ScannerClass, body: Buffer): number {
  const start = process.cpuUsage();
  const s = new Scanner(["model"]);
  for (let i = 0; i < body.length; i += CHUNK) s.push(body.subarray(i, i + CHUNK));
  const r = s.finish ? s.finish() : s.result?.();
  const used = process.cpuUsage(start);
  const ns = (used.user + used.system) * 1000;
  if (typeof r !== "object" || r === null || !("model" in r))
    throw new Error(`no model: ${JSON.stringify(r)}`);
  return ns;
}

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

/** Wall times for Node to receive `body` on a loopback HTTP server, from its first byte to 'end'. */
async function receiveTimes(body: Buffer): Promise<number[]> {
  const times: number[] = [];
  const server = createServer((req, res) => {
    let start = 0n;
    req.on("data", () => {
      if (start === 0n) start = process.hrtime.bigint();
    });
    req.on("end", () => res.end(String(Number(process.hrtime.bigint() - start))));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  for (let i = 0; i < RUNS; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/`, { method: "POST", body });
    times.push(Number(await res.text()));
  }
  server.close();
  return times;
}

async function main(): Promise<void> {
  // Each scanner is measured in turn, run by run, so that the machine's load hits all alike;
  // the fastest run is the code's own cost (anything else running only adds time).
  const paths =
    process.argv.length > 2
      ? process.argv.slice(2)
      : [new URL("../lib/stages/model-scanner.js", import.meta.url).pathname];
  const scanners: { path: string; Scanner: ScannerClass }[] = [];
  for (const path of paths) {
    const { ModelScanner } = (await import(pathToFileURL(path).href)) as { ModelScanner: ScannerClass };
    scanners.push({ path, Scanner: ModelScanner });
  }
  const all = bodies();
  console.log(
    `${"body".padEnd(32)} ${"size".padStart(8)}  ${"fastest".padStart(8)}  ${"median".padStart(8)}  scanner`,
  );
  for (const { name, body } of all) {
    const mb = body.length / 1048576;
    const times = scanners.map(() => [] as number[]);
    for (let run = 0; run < RUNS + 3; run++) {
      for (const [k, { Scanner }] of scanners.entries()) {
        const ns = scanOnce(Scanner, body);
        if (run >= 3) times[k]!.push(ns); // the first runs warm the JIT up
      }
    }
    for (const [k, { path }] of scanners.entries()) {
      const min = Math.min(...times[k]!) / 1000 / mb;
      const med = median(times[k]!) / 1000 / mb;
      console.log(
        `${name.padEnd(32)} ${`${mb.toFixed(1)} MB`.padStart(8)}  ${`${min.toFixed(0)}`.padStart(8)}  ${`${med.toFixed(0)}`.padStart(8)}  µs/MB  ${path}`,
      );
    }
  }
  // Most requests are small: what one costs, per request.
  const small = Buffer.from(JSON.stringify(SMALL_CHAT));
  for (const { path, Scanner } of scanners) {
    const batch = () => {
      const start = process.cpuUsage();
      for (let i = 0; i < 20_000; i++) {
        const s = new Scanner(["model"]);
        s.push(small);
        if (s.finish) s.finish();
        else s.result?.();
      }
      const used = process.cpuUsage(start);
      return ((used.user + used.system) * 1000) / 20_000;
    };
    batch(); // warm up
    const runs = Array.from({ length: 7 }, batch);
    console.log(
      `${"small chat body".padEnd(32)} ${`${small.length} B`.padStart(8)}  ${(Math.min(...runs) / 1000).toFixed(2).padStart(8)}  ${(median(runs) / 1000).toFixed(2).padStart(8)}  µs/request  ${path}`,
    );
  }
  const image = all[1]!.body;
  const recv = await receiveTimes(image);
  const mb = image.length / 1048576;
  console.log(
    `${"node:http receives it".padEnd(32)} ${`${mb.toFixed(1)} MB`.padStart(8)}  ${(Math.min(...recv) / 1000 / mb).toFixed(0).padStart(8)}  ${(median(recv) / 1000 / mb).toFixed(0).padStart(8)}  µs/MB`,
  );
}

await main();
