import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";

/** The repository's root (this file is bench/src/run-guard.ts). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "../..");

/** The options every benchmark run takes (for `parseArgs`): a smoke run, where the report goes, no profile pass. */
export const commonOptions = {
  quick: { type: "boolean", default: false },
  out: { type: "string" },
  "no-profile": { type: "boolean", default: false },
} as const;

/**
 * What every benchmark run starts with: a log line with the seconds since it began, a ceiling on
 * the whole run so a wedged child can never hang CI, and Redis checked before anything starts.
 */
export function benchRun(name: string, ceilingMs: number) {
  const began = Date.now();
  setTimeout(() => {
    console.error(`[${name}] FAILED: the run did not finish within ${ceilingMs / 1000} s`);
    process.exit(1);
  }, ceilingMs).unref();
  const log = (line: string) =>
    console.log(`[${name} ${((Date.now() - began) / 1000).toFixed(0).padStart(4)} s] ${line}`);
  return {
    began,
    log,
    /**
     * Ends the run: its report to `out` (Markdown, and the results as JSON beside it, formatted the
     * way the repository formats committed JSON) or to stdout, the failures, the exit code.
     */
    finish(
      results: { minutes: number; failures: string[] },
      options: { exitCode: number; out: string | undefined; repoRoot: string; report: () => string },
    ): never {
      let exitCode = options.exitCode;
      results.minutes = (Date.now() - began) / 60_000;
      if (exitCode === 0) {
        const markdown = options.report();
        if (options.out) {
          writeFileSync(options.out, markdown);
          const json = options.out.replace(/\.md$/, ".json");
          writeFileSync(json, `${JSON.stringify(results, null, 2)}\n`);
          try {
            // The repository's formatter has the last word on committed JSON (short arrays on one line).
            execFileSync(join(options.repoRoot, "node_modules/.bin/biome"), ["format", "--write", json], {
              stdio: "ignore",
            });
          } catch {
            log("could not format the JSON with biome; run npm run format before committing it");
          }
          log(`wrote ${options.out}`);
        } else console.log(markdown);
      }
      if (results.failures.length > 0) {
        console.error(`[${name}] FAILED:\n- ${results.failures.join("\n- ")}`);
        exitCode = 1;
      }
      log(`${exitCode === 0 ? "done" : "failed"} in ${results.minutes.toFixed(1)} minutes`);
      process.exit(exitCode);
    },
    /** Fails the run at once, with the reason, when Redis does not answer within 5 s. */
    async requireRedis(url: string): Promise<void> {
      const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on("error", () => undefined);
      try {
        await Promise.race([
          probe.connect().then(() => probe.ping()),
          new Promise((_, reject) => setTimeout(() => reject(new Error("no answer within 5 s")), 5_000)),
        ]);
      } catch (error) {
        console.error(`[${name}] FAILED: Redis at ${url} is not reachable (${(error as Error).message})`);
        process.exit(1);
      } finally {
        probe.disconnect();
      }
    },
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
