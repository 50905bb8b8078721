/**
 * A vitest reporter for trpc-conformance.sh (copied into its scratch folder): writes every test's
 * outcome and how many retries it took to the file CONFORMANCE_RESULTS names, for the summary.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import type { Reporter, TestCase } from "vitest/node";

type Outcome = { file: string; name: string; state: string; retries: number };

export default class ResultsReporter implements Reporter {
  private readonly outcomes: Outcome[] = [];

  onTestCaseResult(testCase: TestCase): void {
    this.outcomes.push({
      file: path.basename(testCase.module.moduleId),
      name: testCase.fullName,
      state: testCase.result().state,
      retries: testCase.diagnostic()?.retryCount ?? 0,
    });
  }

  onTestRunEnd(): void {
    const target = process.env.CONFORMANCE_RESULTS;
    if (target) writeFileSync(target, `${JSON.stringify(this.outcomes, null, 2)}\n`);
  }
}
