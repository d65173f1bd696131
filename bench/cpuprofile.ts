/**
 * Summarises a V8 .cpuprofile (what `node --cpu-prof` writes): self time by function and by
 * component, and inclusive time of ollama-proxy's own functions, mapped through the source
 * maps of dist/ back to lib/*.ts.
 *
 * Usage: node .build/bench/cpuprofile.js FILE.cpuprofile [REQUESTS]  (REQUESTS: µs per request)
 */
import { existsSync, readFileSync } from "node:fs";
import { SourceMap } from "node:module";
import { fileURLToPath } from "node:url";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface Row {
  name: string;
  where: string;
  component: string;
  ms: number;
  pct: number;
}

export interface Summary {
  totalMs: number;
  /** Sampled time minus idle. */
  busyMs: number;
  self: Row[];
  components: Row[];
  /** Inclusive time of ollama-proxy's own functions (lib/), recursion counted once. */
  inclusive: Row[];
}

/** Maps a generated position in dist/ to lib/, loading each source map once. */
class SourceMaps {
  private readonly maps = new Map<string, SourceMap | null>();

  resolve(url: string, line: number, column: number): { file: string; line: number } | null {
    if (!url.startsWith("file://")) return null;
    let map = this.maps.get(url);
    if (map === undefined) {
      const path = `${fileURLToPath(url)}.map`;
      map = existsSync(path) ? new SourceMap(JSON.parse(readFileSync(path, "utf8"))) : null;
      this.maps.set(url, map);
    }
    if (map === null || line < 0) return null;
    const e = map.findEntry(line, column) as { originalSource?: string; originalLine?: number };
    if (e.originalSource === undefined) return null;
    const i = e.originalSource.lastIndexOf("lib/");
    return { file: i === -1 ? e.originalSource : e.originalSource.slice(i), line: (e.originalLine ?? 0) + 1 };
  }
}

/** Which part of the stack a frame belongs to. */
function componentOf(frame: CallFrame, where: string): string {
  const { url, functionName } = frame;
  if (url === "") {
    if (functionName === "(garbage collector)") return "GC";
    if (functionName === "(idle)") return "idle";
    if (functionName === "(program)") return "V8/native (program)";
    return "V8 builtins / native";
  }
  if (where.startsWith("lib/")) return `ollama-proxy ${where.slice(0, where.indexOf(":"))}`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith("node:")) {
    const mod = url.slice(5);
    if (/^(_http|internal\/http|http)/.test(mod)) return "node http";
    if (/^internal\/streams|^stream/.test(mod)) return "node streams";
    if (/^(net|internal\/stream_base_commons|internal\/net|dgram)/.test(mod)) return "node net";
    if (/^internal\/(timers|process\/task_queues)|^timers/.test(mod)) return "node timers & ticks";
    if (/crypto/.test(mod)) return "node crypto";
    if (/^events$/.test(mod)) return "node events";
    if (/^internal\/(modules|bootstrap)|^internal\/fs|^fs/.test(mod)) return "node module loading, fs";
    if (/undici/.test(mod)) return "node fetch (pollers)";
    if (/url$/.test(mod)) return "node url";
    return "node (other)";
  }
  if (url.includes("/bench/")) return "bench (reference proxy)";
  return url;
}

/**
 * Summarises `file`. With `window` (µs on the monotonic clock that V8 stamps samples with, the
 * same as `process.hrtime`), only the samples taken inside it count: the load, not the start-up.
 */
export function summarise(file: string, opts: { top?: number; window?: [number, number] } = {}): Summary {
  const top = opts.top ?? 25;
  const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const maps = new SourceMaps();
  const byId = new Map<number, ProfileNode>();
  for (const n of profile.nodes) byId.set(n.id, n);

  // Time of sample i is the gap to the next sample (as Chrome DevTools counts it).
  const selfUs = new Map<number, number>();
  let at = profile.startTime;
  const [from, to] = opts.window ?? [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY];
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    if (at < from || at > to) continue;
    const dt = profile.timeDeltas[i + 1] ?? 0;
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, dt));
  }
  if (selfUs.size === 0) throw new Error(`${file}: no samples in the window ${from}…${to} µs`);

  const info = new Map<number, { key: string; name: string; where: string; component: string }>();
  for (const n of profile.nodes) {
    const f = n.callFrame;
    // Only ollama-proxy's own bundle is mapped back (dependencies ship maps to their own lib/ folders).
    const mapped = f.url.includes("/node_modules/")
      ? null
      : maps.resolve(f.url, f.lineNumber, f.columnNumber);
    const short = f.url.replace(/^file:\/\/.*?\/(node_modules|dist|bench|lib)\//, "$1/");
    const where =
      mapped !== null ? `${mapped.file}:${mapped.line}` : f.url === "" ? "" : `${short}:${f.lineNumber + 1}`;
    const name = f.functionName || "(anonymous)";
    info.set(n.id, { key: `${name} ${where}`, name, where, component: componentOf(f, where) });
  }

  let totalUs = 0;
  let idleUs = 0;
  const selfByKey = new Map<string, Row>();
  const byComponent = new Map<string, Row>();
  for (const [id, us] of selfUs) {
    const i = info.get(id)!;
    totalUs += us;
    if (i.component === "idle") idleUs += us;
    const row = selfByKey.get(i.key) ?? {
      name: i.name,
      where: i.where,
      component: i.component,
      ms: 0,
      pct: 0,
    };
    row.ms += us / 1000;
    selfByKey.set(i.key, row);
    const c = byComponent.get(i.component) ?? {
      name: i.component,
      where: "",
      component: i.component,
      ms: 0,
      pct: 0,
    };
    c.ms += us / 1000;
    byComponent.set(i.component, c);
  }

  // Inclusive time: each node's subtree, credited to its function once per stack (recursion).
  const inclusiveByKey = new Map<string, Row>();
  const onStack = new Map<string, number>();
  const walk = (id: number): number => {
    const n = byId.get(id)!;
    const i = info.get(id)!;
    let us = selfUs.get(id) ?? 0;
    onStack.set(i.key, (onStack.get(i.key) ?? 0) + 1);
    for (const c of n.children ?? []) us += walk(c);
    const depth = onStack.get(i.key)!;
    onStack.set(i.key, depth - 1);
    if (depth === 1 && i.where.startsWith("lib/")) {
      const row = inclusiveByKey.get(i.key) ?? {
        name: i.name,
        where: i.where,
        component: i.component,
        ms: 0,
        pct: 0,
      };
      row.ms += us / 1000;
      inclusiveByKey.set(i.key, row);
    }
    return us;
  };
  const root = profile.nodes[0];
  if (root !== undefined) walk(root.id);

  const busyMs = (totalUs - idleUs) / 1000;
  const ranked = (rows: Iterable<Row>, n: number) =>
    [...rows]
      .filter((r) => r.component !== "idle")
      .map((r) => ({ ...r, pct: (100 * r.ms) / busyMs }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, n);
  return {
    totalMs: totalUs / 1000,
    busyMs,
    self: ranked(selfByKey.values(), top),
    components: ranked(byComponent.values(), 30),
    inclusive: ranked(inclusiveByKey.values(), top),
  };
}

/** The summary as text; with `requests`, times are also given per request in µs. */
export function formatSummary(title: string, s: Summary, requests: number | null): string {
  const perReq = (ms: number) =>
    requests ? `${((ms * 1000) / requests).toFixed(1).padStart(7)} µs/req` : "";
  const rows = (list: Row[], withWhere: boolean) =>
    list
      .map(
        (r) =>
          `  ${r.ms.toFixed(0).padStart(7)} ms ${r.pct.toFixed(1).padStart(5)}% ${perReq(r.ms)}  ${r.name}${withWhere && r.where ? `  (${r.where})` : ""}`,
      )
      .join("\n");
  return [
    // Samples are wall-clock: a thread descheduled by other load still counts as busy where it stopped.
    `${title}: ${s.busyMs.toFixed(0)} ms busy (not idle) of ${s.totalMs.toFixed(0)} ms sampled${requests ? `, ${requests.toLocaleString("en")} requests → ${((s.busyMs * 1000) / requests).toFixed(1)} µs busy per request` : ""}`,
    "self time by component:",
    rows(s.components, false),
    "top functions by self time:",
    rows(s.self, true),
    ...(s.inclusive.length > 0
      ? ["ollama-proxy functions by inclusive time (self + callees):", rows(s.inclusive, true)]
      : []),
  ].join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, requests] = process.argv.slice(2);
  if (file === undefined) {
    process.stderr.write("usage: node .build/bench/cpuprofile.js FILE.cpuprofile [REQUESTS]\n");
    process.exit(2);
  }
  process.stdout.write(`${formatSummary(file, summarise(file), requests ? Number(requests) : null)}\n`);
}
