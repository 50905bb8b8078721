/**
 * Rewrites docs/benchmarks-tutor.md from docs/benchmarks-tutor.json (after a change to the report's
 * layout), without running the benchmark again: `tsx src/tutor/rewrite-report.ts [json]`.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type TutorBenchResults, writeTutorReport } from "./report";

const json = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), "../../../docs/benchmarks-tutor.json");
const results = JSON.parse(readFileSync(json, "utf8")) as TutorBenchResults;
writeFileSync(json.replace(/\.json$/, ".md"), writeTutorReport(results));
console.log(`wrote ${json.replace(/\.json$/, ".md")}`);
