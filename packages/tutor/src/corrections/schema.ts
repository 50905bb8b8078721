import { z } from "zod";
import { cefrLevelSchema } from "../levels";

/** What kind of mistake an edit fixes. `other` also marks a change the model made without explaining it. */
export const correctionCategories = [
  "case",
  "gender",
  "verb-position",
  "ending",
  "conjugation",
  "tense",
  "spelling",
  "word-choice",
  "preposition",
  "punctuation",
  "other",
] as const;
export type CorrectionCategory = (typeof correctionCategories)[number];
export const correctionCategorySchema = z.enum(correctionCategories);

/** The longest learner text a correction is asked for (what a message may hold), in UTF-16 units. */
export const maxCorrectionTextLength = 4_096;
/** The longest corrected text a model may return: corrections add words, but not that many. */
export const maxCorrectedLength = 6_000;
export const maxCorrectionEdits = 20;

/** One mistake as the model reports it: words copied from the learner's text, and what they should be. */
export const modelEditSchema = z.object({
  original: z.string().max(300),
  suggestion: z.string().max(300),
  category: correctionCategorySchema,
  explanation: z.string().max(300),
  level: cefrLevelSchema,
});

/** What the MODEL returns (the `format` of {@link correctionRequest}): the corrected text and its edits, unplaced. */
export const modelCorrectionSchema = z.object({
  corrected: z.string().max(maxCorrectedLength),
  edits: z.array(modelEditSchema).max(maxCorrectionEdits),
});
export type ModelCorrection = z.infer<typeof modelCorrectionSchema>;

/**
 * One edit as the server stores and sends it: `text.slice(start, end) === original` (UTF-16 offsets
 * into the learner's text, end exclusive), and `suggestion` is what stands there in `corrected`.
 */
export const correctionEditSchema = z.object({
  start: z.number().int().min(0),
  end: z.number().int().min(0),
  original: z.string(),
  suggestion: z.string(),
  category: correctionCategorySchema,
  explanation: z.string(),
  level: cefrLevelSchema,
});
export type CorrectionEdit = z.infer<typeof correctionEditSchema>;

/** What the SERVER stores and sends: the learner's text, the corrected text, and edits placed by offsets (sorted, never overlapping). */
export const correctionSchema = z.object({
  text: z.string(),
  corrected: z.string(),
  edits: z.array(correctionEditSchema),
});
export type Correction = z.infer<typeof correctionSchema>;
