import { conversations, getDatabase, messages, type StoredMessage } from "@plauder/db";
import { processSingleton } from "@plauder/runtime";
import {
  type CefrLevel,
  type Correction,
  cefrLevelSchema,
  correctionSchema,
  type Scenario,
  scenarioSchema,
} from "@plauder/tutor/schemas";
import { TRPCError } from "@trpc/server";
import { and, asc, desc, eq, gt, inArray } from "drizzle-orm";
import { conversationChannel } from "../channels/names";
import type { ConversationView, FinalStatus, MessageView } from "./events";

/** The tutor's record in Postgres: conversations and what was said in them. */

export type TutorConversation = {
  id: string;
  ownerId: string;
  title: string;
  level: CefrLevel;
  scenario: Scenario | null;
  createdAt: Date;
};

function toConversation(row: typeof conversations.$inferSelect): TutorConversation {
  const scenario = row.scenario === null ? null : scenarioSchema.safeParse(row.scenario);
  const level = cefrLevelSchema.safeParse(row.level);
  return {
    id: row.id,
    ownerId: row.ownerId,
    title: row.title,
    level: level.success ? level.data : "A2",
    scenario: scenario?.success ? scenario.data : null,
    createdAt: row.createdAt,
  };
}

export function conversationView(conversation: TutorConversation): ConversationView {
  return {
    id: conversation.id,
    title: conversation.title,
    level: conversation.level,
    scenario: conversation.scenario,
    channel: conversationChannel(conversation.id),
    createdAt: conversation.createdAt.toISOString(),
  };
}

export function messageView(row: StoredMessage): MessageView {
  const correction = row.correction === null ? null : correctionSchema.safeParse(row.correction);
  return {
    id: row.id,
    role: row.role,
    content: row.content,
    status: row.status,
    model: row.model,
    error: row.error,
    correction: correction?.success ? correction.data : null,
    createdAt: row.createdAt.toISOString(),
  };
}

// A conversation's owner, level and scenario never change once it is created, so each instance
// keeps the ones it has read: a learner's every send would otherwise start with the same query.
const knownConversationsLimit = 10_000;
function knownConversations(): Map<string, TutorConversation> {
  return processSingleton("tutor.knownConversations", () => new Map<string, TutorConversation>());
}

/** The conversation if `userId` owns it; FORBIDDEN otherwise, also when it does not exist (no probing). */
export async function ownedConversation(conversationId: string, userId: string): Promise<TutorConversation> {
  const known = knownConversations();
  let conversation = known.get(conversationId);
  if (!conversation) {
    const [row] = await getDatabase()
      .db.select()
      .from(conversations)
      .where(eq(conversations.id, conversationId))
      .limit(1);
    if (row) {
      conversation = toConversation(row);
      if (known.size >= knownConversationsLimit) known.delete(known.keys().next().value as string);
      known.set(conversationId, conversation);
    }
  }
  if (!conversation || conversation.ownerId !== userId) {
    throw new TRPCError({ code: "FORBIDDEN", message: "Only the owner of this conversation may use it" });
  }
  return conversation;
}

export async function createConversation(input: {
  ownerId: string;
  title: string;
  level: CefrLevel;
  scenario: Scenario | null;
}): Promise<{ conversation: TutorConversation; opening: MessageView | null }> {
  return getDatabase().db.transaction(async (tx) => {
    const [row] = await tx.insert(conversations).values(input).returning();
    if (!row) throw new Error("insert returned no row");
    let opening: MessageView | null = null;
    if (input.scenario) {
      // The scenario's first line opens the role-play, so the learner answers rather than starts.
      const [first] = await tx
        .insert(messages)
        .values({
          conversationId: row.id,
          role: "assistant",
          content: input.scenario.opening,
          status: "complete",
          model: "scenario",
        })
        .returning();
      if (first) opening = messageView(first);
    }
    return { conversation: toConversation(row), opening };
  });
}

export async function listConversations(ownerId: string): Promise<TutorConversation[]> {
  const rows = await getDatabase()
    .db.select()
    .from(conversations)
    .where(eq(conversations.ownerId, ownerId))
    .orderBy(desc(conversations.createdAt))
    .limit(200);
  return rows.map(toConversation);
}

export async function listMessages(conversationId: string): Promise<StoredMessage[]> {
  return getDatabase()
    .db.select()
    .from(messages)
    .where(eq(messages.conversationId, conversationId))
    .orderBy(asc(messages.seq));
}

/**
 * Adds the learner's message and the answer's row (queued) in one statement: one round trip, and
 * atomic like a transaction. Identities are drawn in the order of the rows, so the answer follows.
 */
export async function addTurn(
  conversationId: string,
  text: string,
  answerId: string,
): Promise<{ userMessage: StoredMessage; answer: StoredMessage }> {
  const rows = await getDatabase()
    .db.insert(messages)
    .values([
      { conversationId, role: "user", content: text, status: "complete" },
      { id: answerId, conversationId, role: "assistant", content: "", status: "queued" },
    ])
    .returning();
  const userMessage = rows.find((row) => row.role === "user");
  const answer = rows.find((row) => row.id === answerId);
  if (!userMessage || !answer) throw new Error("insert returned no row");
  return { userMessage, answer };
}

/** A new answer's row (queued) after the last message, for regenerate. */
export async function addAnswer(conversationId: string, answerId: string): Promise<StoredMessage> {
  const [answer] = await getDatabase()
    .db.insert(messages)
    .values({ id: answerId, conversationId, role: "assistant", content: "", status: "queued" })
    .returning();
  if (!answer) throw new Error("insert returned no row");
  return answer;
}

/** Removes every message after `seq` (regenerate, edit and resend). */
export async function removeAfter(conversationId: string, seq: number): Promise<void> {
  await getDatabase()
    .db.delete(messages)
    .where(and(eq(messages.conversationId, conversationId), gt(messages.seq, seq)));
}

export async function replaceUserText(messageId: string, text: string): Promise<void> {
  await getDatabase().db.update(messages).set({ content: text, correction: null }).where(eq(messages.id, messageId));
}

export async function markStreaming(messageId: string, model: string): Promise<void> {
  await getDatabase().db.update(messages).set({ status: "streaming", model }).where(eq(messages.id, messageId));
}

export async function finishAnswer(
  messageId: string,
  outcome: {
    status: FinalStatus;
    content: string;
    model?: string | undefined;
    error?: string | undefined;
    promptTokens?: number | undefined;
    completionTokens?: number | undefined;
  },
): Promise<void> {
  await getDatabase()
    .db.update(messages)
    .set({
      status: outcome.status,
      content: outcome.content,
      error: outcome.error ?? null,
      promptTokens: outcome.promptTokens ?? null,
      completionTokens: outcome.completionTokens ?? null,
      ...(outcome.model ? { model: outcome.model } : {}),
    })
    .where(eq(messages.id, messageId));
}

export async function saveCorrection(messageId: string, correction: Correction): Promise<void> {
  await getDatabase().db.update(messages).set({ correction }).where(eq(messages.id, messageId));
}

/**
 * Answers left `queued` or `streaming` with no generation holding them (their instance died)
 * end as failed, keeping what had arrived.
 */
export async function failOrphans(messageIds: string[], partial: (id: string) => Promise<string>): Promise<void> {
  if (messageIds.length === 0) return;
  const { db } = getDatabase();
  for (const id of messageIds) {
    await db
      .update(messages)
      .set({ status: "failed", content: await partial(id), error: "The answer was interrupted; regenerate it." })
      .where(and(eq(messages.id, id), inArray(messages.status, ["queued", "streaming"])));
  }
}
