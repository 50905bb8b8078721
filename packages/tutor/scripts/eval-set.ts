import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { cefrLevelSchema, correctionCategorySchema } from "../src";

/** One learner sentence of the evaluation set, with the correction a good tutor gives. */
export const evalSentenceSchema = z.object({
  id: z.string().regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/),
  level: cefrLevelSchema,
  text: z.string().min(1),
  /** The expected correction; equal to `text` for a sentence that is already correct. */
  corrected: z.string().min(1),
  /** The categories of the mistakes in it (empty for a correct sentence). */
  categories: z.array(correctionCategorySchema),
});
export type EvalSentence = z.infer<typeof evalSentenceSchema>;

export const evalSetSchema = z.object({ description: z.string(), sentences: z.array(evalSentenceSchema).min(1) });

export const evalSetFile = fileURLToPath(new URL("../eval/sentences.json", import.meta.url));

export async function loadEvalSet(): Promise<EvalSentence[]> {
  return evalSetSchema.parse(JSON.parse(await readFile(evalSetFile, "utf8"))).sentences;
}

/** How the evaluation compares corrections: NFC, plain quotes and apostrophes, whitespace runs as one space. */
export function normalizeForComparison(text: string): string {
  return text
    .normalize("NFC")
    .replace(/[’‘‚]/g, "'")
    .replace(/[„“”«»]/g, '"')
    .replace(/\s+/g, " ")
    .trim();
}
