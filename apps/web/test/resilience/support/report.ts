import { mkdirSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import { profileName } from "./profile";

/** Where each case leaves its figures; `npm run reliability:report` turns them into docs/reliability.md. */
export const resultsDir = join(dirname(fileURLToPath(import.meta.url)), "../results");

export type Figures = Record<string, string | number | boolean>;

/** A table of its own under a case's figures: one row per channel, say. */
export type Breakdown = { caption: string; columns: string[]; rows: (string | number | boolean)[][] };

export type CaseReport = {
  /** Stable file name, e.g. `faults.redis-restarts`. */
  id: string;
  /** Section of docs/reliability.md: Faults, Channel faults, Floods and slow clients, Hostile input, Security. */
  section: string;
  title: string;
  /** What the case did, in a sentence or two. */
  method: string;
  figures: Figures;
  /** Optional detail under the figures (the channel cases give one row per room). */
  breakdown?: Breakdown;
};

/** Records one case's figures (only after its assertions passed, so the report never shows a failure as a result). */
export function reportCase(report: CaseReport): void {
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${report.id}.json`);
  const testPath = expect.getState().testPath;
  const body = {
    ...report,
    file: testPath ? `test/resilience/${basename(testPath)}` : undefined,
    profile: profileName,
    recordedAt: new Date().toISOString(),
  };
  writeFileSync(file, `${JSON.stringify(body, null, 2)}\n`);
}

/** Rounds megabytes for reporting. */
export const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
