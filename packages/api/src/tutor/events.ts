import { cefrLevelSchema, correctionSchema, scenarioSchema } from "@plauder/tutor/schemas";
import { z } from "zod";

/**
 * What the tutor says on a conversation's channel (`conversation:<id>`): one JSON event per
 * ephemeral publication, sent by {@link tutorSender}. The channel's publications carry text, so the
 * event travels as that text; clients decode it with {@link decodeTutorEvent}, which refuses
 * anything not sent by the tutor or not of this shape.
 *
 * This module is shared with browsers and the CLI: it imports nothing but schemas.
 */

/** The sender of the tutor's publications. Person ids are UUIDs, so no person can be it. */
export const tutorSender = { id: "tutor", name: "Tutor" } as const;

export const messageStatuses = ["queued", "streaming", "complete", "stopped", "failed"] as const;
export type MessageStatus = (typeof messageStatuses)[number];
/** The statuses a generation ends in. */
export const finalStatuses = ["complete", "stopped", "failed"] as const;
export type FinalStatus = (typeof finalStatuses)[number];

const id = z.uuid();

/** One message as clients see it. `content` of a streaming message is what has arrived so far. */
export const messageViewSchema = z.object({
  id,
  role: z.enum(["user", "assistant"]),
  content: z.string(),
  status: z.enum(messageStatuses),
  model: z.string().nullable(),
  error: z.string().nullable(),
  correction: correctionSchema.nullable(),
  createdAt: z.string(),
});
export type MessageView = z.infer<typeof messageViewSchema>;

/** An answer a client hears of (queued, start, delta) before it has read it: empty and queued. */
export function blankAnswerView(id: string, createdAt = ""): MessageView {
  return {
    id,
    role: "assistant",
    content: "",
    status: "queued",
    model: null,
    error: null,
    correction: null,
    createdAt,
  };
}

export const conversationViewSchema = z.object({
  id,
  title: z.string(),
  level: cefrLevelSchema,
  scenario: scenarioSchema.nullable(),
  channel: z.string(),
  createdAt: z.string(),
});
export type ConversationView = z.infer<typeof conversationViewSchema>;

export const tutorEventSchema = z.discriminatedUnion("type", [
  /** A learner's message was added (seen by the learner's other tabs). */
  z.object({ type: z.literal("message"), message: messageViewSchema }),
  /** Messages after `afterMessageId` were removed (regenerate, edit and resend); null: all of them. */
  z.object({ type: z.literal("truncate"), afterMessageId: id.nullable() }),
  /** The answer waits for a free place: `position` 1 is next. */
  z.object({ type: z.literal("queued"), messageId: id, position: z.number().int().positive() }),
  /** The answer started: the model was asked. */
  z.object({ type: z.literal("start"), messageId: id, model: z.string() }),
  /**
   * A piece of the answer that begins at character `at` (UTF-16). Pieces arrive in order; a client
   * that already has text up to `at` or beyond keeps what it has, and one that has less missed
   * something and reloads the conversation.
   */
  z.object({ type: z.literal("delta"), messageId: id, at: z.number().int().nonnegative(), text: z.string() }),
  /** The answer ended. `length` is the saved content's length, `error` why it failed. */
  z.object({
    type: z.literal("end"),
    messageId: id,
    status: z.enum(finalStatuses),
    length: z.number().int().nonnegative(),
    error: z.string().optional(),
  }),
  /** The correction of a learner's message. */
  z.object({ type: z.literal("correction"), messageId: id, correction: correctionSchema }),
  /** No correction could be had for a learner's message; `reason` is one sentence. */
  z.object({ type: z.literal("correction-failed"), messageId: id, reason: z.string() }),
]);
export type TutorEvent = z.infer<typeof tutorEventSchema>;

export function encodeTutorEvent(event: TutorEvent): string {
  return JSON.stringify(event);
}

/**
 * The tutor event a publication carries, or null when it is not one: another sender, text that is
 * not JSON, or JSON of another shape. Clients ignore nulls.
 */
export function decodeTutorEvent(publication: { text: string; sender: { id: string } }): TutorEvent | null {
  if (publication.sender.id !== tutorSender.id) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(publication.text);
  } catch {
    return null;
  }
  const result = tutorEventSchema.safeParse(parsed);
  return result.success ? result.data : null;
}

/**
 * Applies a delta to the text a client has: the new text, or null when the delta begins past the
 * end (something was missed: reload the conversation).
 */
export function applyDelta(current: string, delta: { at: number; text: string }): string | null {
  if (delta.at > current.length) return null;
  const end = delta.at + delta.text.length;
  if (end <= current.length) return current;
  return current.slice(0, delta.at) + delta.text;
}
