import { describeError, getLogger } from "@plauder/runtime";
import {
  type CefrLevel,
  correctionPromptVersion,
  correctionSchema,
  correctText,
  ModelOutputError,
  ProviderError,
} from "@plauder/tutor";
import { getOutputCache } from "./cache";
import { getTutorProvider } from "./provider";
import { publishTutorEvent } from "./publish";
import { saveCorrection } from "./store";

// A correction is a short structured answer; past this the model is not coming back with one.
const correctionTimeoutMs = 60_000;

/**
 * Corrects a learner's message beside the answer (never in its way): from the cache when the same
 * model already corrected the same text at the same level with the same prompt, else from the
 * model at temperature 0. The result is saved on the message and sent on the channel; a failure
 * sends one sentence instead, and the conversation goes on.
 */
export async function correctMessage(
  conversationId: string,
  messageId: string,
  text: string,
  level: CefrLevel,
): Promise<void> {
  try {
    const { provider, model } = await getTutorProvider().get();
    const cache = getOutputCache();
    const key = [model, correctionPromptVersion, level, text];
    let correction = await cache.get("correction", key, correctionSchema);
    if (!correction) {
      correction = await correctText(provider, model, text, level, AbortSignal.timeout(correctionTimeoutMs));
      await cache.set("correction", key, correction);
    }
    await saveCorrection(messageId, correction);
    await publishTutorEvent(conversationId, { type: "correction", messageId, correction });
  } catch (error) {
    getLogger().warn({ conversation: conversationId, err: describeError(error) }, "no correction for a message");
    const reason =
      error instanceof ModelOutputError
        ? "The model's correction was not usable (malformed); the conversation goes on without it."
        : error instanceof ProviderError
          ? `No correction: ${error.message}`
          : error instanceof DOMException && error.name === "TimeoutError"
            ? "The correction took too long and was skipped."
            : "No correction could be made for this message.";
    await publishTutorEvent(conversationId, { type: "correction-failed", messageId, reason }).catch(() => undefined);
  }
}
