import { readFileSync } from "node:fs";

type ProfileNode = {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
};
type Profile = { nodes: ProfileNode[]; startTime: number; endTime: number; samples?: number[]; timeDeltas?: number[] };

export type ProfileSummary = {
  file: string;
  /** Sampled time, ms (the process's whole life). */
  totalMs: number;
  /** Time the event loop waited for work. */
  idleMs: number;
  /** Busy time by where the code lives: a package under node_modules, node's own code, the server bundle, GC. */
  byArea: { area: string; ms: number; share: number }[];
  /** The functions with the most self time. */
  topFunctions: { name: string; area: string; ms: number; share: number }[];
};

function areaOf(frame: ProfileNode["callFrame"]): string {
  const { url, functionName } = frame;
  if (functionName === "(garbage collector)") return "garbage collector";
  if (functionName === "(program)") return "(program: native, not attributed)";
  if (functionName === "(idle)") return "idle";
  if (url === "") return `native: ${functionName || "anonymous"}`;
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1] as string;
  if (url.startsWith("node:internal/")) return `node:internal/${url.slice(14).split("/")[0]?.replace(/\.js$/, "")}`;
  if (url.startsWith("node:")) return `node:${url.slice(5).split("/")[0]}`;
  if (url.endsWith(".mjs")) return "server bundle (Plauder / bench server code)";
  return url;
}

/** Self time per function and per area from a V8 .cpuprofile (as written by `node --cpu-prof`). */
export function summariseProfile(path: string, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, "utf8")) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    // Each delta is the time before its sample; attribute it to that sample's node.
    const id = samples[i] as number;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, deltas[i] ?? 0));
  }
  const areas = new Map<string, number>();
  const functions = new Map<string, { name: string; area: string; us: number }>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    total += us;
    const area = areaOf(node.callFrame);
    if (area === "idle") {
      idle += us;
      continue;
    }
    areas.set(area, (areas.get(area) ?? 0) + us);
    const name = `${node.callFrame.functionName || "(anonymous)"}`;
    const key = `${name}|${area}|${node.callFrame.lineNumber}`;
    const entry = functions.get(key) ?? { name, area, us: 0 };
    entry.us += us;
    functions.set(key, entry);
  }
  const busy = Math.max(1, total - idle);
  return {
    file: path,
    totalMs: total / 1000,
    idleMs: idle / 1000,
    byArea: [...areas]
      .map(([area, us]) => ({ area, ms: us / 1000, share: us / busy }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 12),
    topFunctions: [...functions.values()]
      .map((f) => ({ name: f.name, area: f.area, ms: f.us / 1000, share: f.us / busy }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top),
  };
}
