/**
 * Runs the tutor's correction over the evaluation set (eval/sentences.json) against a real model,
 * the one `selectProvider(getEnv())` picks (Ollama, or the embedded engine with TUTOR_MODEL_FILE,
 * or TUTOR_PROVIDER=openai), and prints each result and the score:
 *
 *   npm run tutor:eval                      # from the repository root
 *   npm run tutor:eval -- --level A2        # one level only
 *   npm run tutor:eval -- --limit 5         # the first five
 *
 * Exits with 2 and a sentence saying why when no model answers. Not part of `npm test`.
 */
import { parseArgs } from "node:util";
import { getEnv } from "@plauder/runtime";
import {
  type CefrLevel,
  type ChatProvider,
  type Correction,
  cefrLevelSchema,
  correctionPromptVersion,
  correctText,
  ModelNotFoundError,
  ModelOutputError,
  NoProviderError,
  ProviderTimeoutError,
  ProviderUnavailableError,
  selectProvider,
} from "../src";
import { type EvalSentence, loadEvalSet, normalizeForComparison } from "./eval-set";

const { values } = parseArgs({
  options: {
    level: { type: "string" },
    limit: { type: "string" },
    "timeout-ms": { type: "string", default: "180000" },
  },
});

function noModel(reason: string): never {
  console.error(`No model answers, so the evaluation cannot run: ${reason}`);
  process.exit(2);
}

let sentences = await loadEvalSet();
if (values.level !== undefined) {
  const level: CefrLevel = cefrLevelSchema.parse(values.level.toUpperCase());
  sentences = sentences.filter((sentence) => sentence.level === level);
}
const positive = (name: string, value: string | undefined): number | undefined => {
  if (value === undefined) return undefined;
  if (!/^[1-9]\d*$/.test(value)) {
    console.error(`--${name} takes a whole number above 0, not "${value}".`);
    process.exit(1);
  }
  return Number(value);
};
const limit = positive("limit", values.limit);
if (limit !== undefined) sentences = sentences.slice(0, limit);
const timeoutMs = positive("timeout-ms", values["timeout-ms"]) ?? 180_000;

let provider: ChatProvider;
let model: string;
try {
  const selected = await selectProvider(getEnv());
  provider = selected.provider;
  model = selected.model;
  console.log(`Provider: ${selected.reason}; model ${model}; prompt ${correctionPromptVersion}.`);
} catch (error) {
  if (error instanceof NoProviderError || error instanceof ProviderUnavailableError) noModel(error.message);
  throw error;
}
const health = await provider.health();
if (!health.ok) noModel(health.reason);

interface Result {
  sentence: EvalSentence;
  correction?: Correction;
  error?: string;
  exact: boolean;
  found: number;
  ms: number;
}

const results: Result[] = [];
for (const [index, sentence] of sentences.entries()) {
  const started = performance.now();
  const result: Result = { sentence, exact: false, found: 0, ms: 0 };
  try {
    const correction = await correctText(
      provider,
      model,
      sentence.text,
      sentence.level,
      AbortSignal.timeout(timeoutMs),
    );
    result.correction = correction;
    result.exact = normalizeForComparison(correction.corrected) === normalizeForComparison(sentence.corrected);
    const got = new Set(correction.edits.map((edit) => edit.category));
    result.found = sentence.categories.filter((category) => got.has(category)).length;
  } catch (error) {
    if (error instanceof ProviderUnavailableError) noModel(error.message);
    if (error instanceof ModelNotFoundError) noModel(`${error.message} (${error.kind})`);
    if (!(error instanceof ModelOutputError || error instanceof ProviderTimeoutError || isTimeout(error))) throw error;
    result.error = error instanceof Error ? error.message : String(error);
  }
  result.ms = performance.now() - started;
  results.push(result);
  print(index + 1, sentences.length, result);
}
await provider.close();

const expectedCategories = sentences.reduce((sum, sentence) => sum + sentence.categories.length, 0);
const found = results.reduce((sum, result) => sum + result.found, 0);
const exact = results.filter((result) => result.exact).length;
const correct = results.filter((result) => result.sentence.text === result.sentence.corrected);
const leftAlone = correct.filter((result) => result.correction && result.correction.edits.length === 0).length;
const failed = results.filter((result) => result.error !== undefined).length;
const percent = (part: number, whole: number) => (whole === 0 ? "–" : `${Math.round((part / whole) * 100)}%`);
const totalMs = results.reduce((sum, result) => sum + result.ms, 0);

console.log("");
console.log(`Score over ${results.length} sentences (${model}, ${correctionPromptVersion}):`);
console.log(`  exact corrected text    ${exact}/${results.length} (${percent(exact, results.length)})`);
console.log(`  category recall         ${found}/${expectedCategories} (${percent(found, expectedCategories)})`);
console.log(`  correct ones left alone ${leftAlone}/${correct.length}`);
console.log(`  unusable answers        ${failed}`);
console.log(
  `  time                    ${Math.round(totalMs / 1000)} s, ${Math.round(totalMs / Math.max(1, results.length))} ms a sentence`,
);

function print(position: number, total: number, result: Result): void {
  const { sentence, correction } = result;
  const mark = result.error ? "!" : result.exact ? "✓" : "✗";
  console.log(`${mark} [${position}/${total}] ${sentence.id} (${sentence.level}, ${Math.round(result.ms)} ms)`);
  console.log(`    text:      ${sentence.text}`);
  if (result.error) {
    console.log(`    error:     ${result.error}`);
    return;
  }
  if (!result.exact) console.log(`    expected:  ${sentence.corrected}`);
  console.log(`    corrected: ${correction?.corrected}`);
  const edits = correction?.edits.map((edit) => `${edit.original} → ${edit.suggestion} (${edit.category})`) ?? [];
  console.log(`    edits:     ${edits.length > 0 ? edits.join("; ") : "none"}`);
  if (sentence.categories.length > 0) {
    console.log(
      `    categories found ${result.found}/${sentence.categories.length}: expected ${sentence.categories.join(", ")}`,
    );
  }
}

function isTimeout(error: unknown): boolean {
  return error instanceof DOMException && error.name === "TimeoutError";
}
