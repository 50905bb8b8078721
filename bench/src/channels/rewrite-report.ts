/**
 * Rewrites docs/benchmarks-channels.md from docs/benchmarks-channels.json (after a change to the
 * report's layout), without running the benchmark again: `tsx src/channels/rewrite-report.ts [json]`.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BenchResults, writeChannelsReport } from "./report";

const json = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), "../../../docs/benchmarks-channels.json");
const results = JSON.parse(readFileSync(json, "utf8")) as BenchResults;
writeFileSync(json.replace(/\.json$/, ".md"), writeChannelsReport(results));
console.log(`wrote ${json.replace(/\.json$/, ".md")}`);
