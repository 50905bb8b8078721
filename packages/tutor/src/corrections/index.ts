import type { CefrLevel } from "../levels";
import { parseModelJson } from "../output";
import type { ChatProvider } from "../types";
import { alignEdits, normalizeWhitespace } from "./align";
import { correctionRequest } from "./prompt";
import { type Correction, modelCorrectionSchema } from "./schema";

export { correctionPromptVersion, correctionRequest } from "./prompt";
export * from "./schema";

/**
 * The learner's `text` with the model's answer `raw` (its joined output) made safe to store: the
 * answer is parsed and checked against {@link modelCorrectionSchema} (else
 * {@link ModelOutputError}), and the edits are placed on `text` by diffing it against `corrected`
 * (see `alignEdits`): model edits that point at no changed place are dropped, changed places no
 * edit explains become category `other` with an empty explanation (at `level`, A1 when not given).
 */
export function parseCorrection(text: string, raw: string, level: CefrLevel = "A1"): Correction {
  const answer = parseModelJson(raw, modelCorrectionSchema, "correction");
  const corrected = answer.corrected.trim();
  if (normalizeWhitespace(corrected) === normalizeWhitespace(text)) return { text, corrected: text, edits: [] };
  return { text, corrected, edits: alignEdits(text, corrected, answer.edits, level).edits };
}

/**
 * Asks `provider` to correct `text` (structured output, temperature 0) and returns the checked
 * correction. Throws the provider's errors, {@link ModelOutputError}, or the signal's reason.
 */
export async function correctText(
  provider: ChatProvider,
  model: string,
  text: string,
  level: CefrLevel,
  signal: AbortSignal,
): Promise<Correction> {
  const { messages, format } = correctionRequest(text, level);
  // Room for the corrected text twice over and the edits; a runaway answer is cut (and then fails to parse).
  const maxTokens = 1_024 + Math.ceil(text.length / 2);
  let raw = "";
  for await (const chunk of provider.chat({
    model,
    messages,
    format,
    options: { temperature: 0, maxTokens },
    signal,
  })) {
    if (chunk.type === "delta") raw += chunk.text;
  }
  return parseCorrection(text, raw, level);
}
