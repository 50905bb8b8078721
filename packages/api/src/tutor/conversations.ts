import { randomUUID } from "node:crypto";
import type { StoredMessage } from "@plauder/db";
import { describeError, getInstanceId, getLogger } from "@plauder/runtime";
import type { CefrLevel, Scenario } from "@plauder/tutor/schemas";
import { TRPCError } from "@trpc/server";
import { conversationChannel } from "../channels/names";
import { announceAccessChange } from "../channels/service";
import { tooManyRequests } from "../errors";
import { correctMessage } from "./corrections";
import type { ConversationView, MessageView } from "./events";
import type { ActiveGeneration } from "./generation-state";
import { publishTutorEvent } from "./publish";
import { generationLeaseMs, getGenerationRunner } from "./runner";
import {
  addAnswer,
  addTurn,
  conversationView,
  createConversation,
  failOrphans,
  listMessages,
  messageView,
  ownedConversation,
  removeAfter,
  replaceUserText,
  type TutorConversation,
} from "./store";
import { getWorkingContexts } from "./working-context";

/** What the tutor procedures do, in the order a learner meets them. */

export async function startConversation(
  user: { id: string },
  input: { level: CefrLevel; scenario: Scenario | null; title?: string | undefined },
): Promise<{ conversation: ConversationView; messages: MessageView[] }> {
  const title = input.title ?? input.scenario?.title ?? "Freies Gespräch";
  const { conversation, opening } = await createConversation({
    ownerId: user.id,
    title,
    level: input.level,
    scenario: input.scenario,
  });
  // Every instance may hold the person's grants from before: the tab that follows the conversation
  // may be connected to another one.
  await announceAccessChange(conversationChannel(conversation.id), user.id);
  return { conversation: conversationView(conversation), messages: opening ? [opening] : [] };
}

export type ConversationSnapshot = {
  conversation: ConversationView;
  messages: MessageView[];
  /** The answer under way, if any: the one Stop stops. */
  active: ActiveGeneration | null;
};

/**
 * The conversation as it stands: the record, with the answer under way filled in from the text
 * so far. Answers the record shows as under way that no instance holds any more (it crashed) are
 * ended as failed here, keeping what had arrived.
 */
export async function conversationSnapshot(userId: string, conversationId: string): Promise<ConversationSnapshot> {
  const conversation = await ownedConversation(conversationId, userId);
  const { state } = getGenerationRunner();
  const [rows, active] = await Promise.all([listMessages(conversation.id), state.active(conversation.id)]);
  const orphans = rows.filter(
    (row) => (row.status === "queued" || row.status === "streaming") && row.id !== active?.messageId,
  );
  if (orphans.length > 0) {
    await failOrphans(
      orphans.map((row) => row.id),
      (id) => state.text(id),
    );
    return conversationSnapshot(userId, conversationId);
  }
  const messages = await Promise.all(
    rows.map(async (row) => {
      const view = messageView(row);
      if (row.id !== active?.messageId) return view;
      return { ...view, status: active.state, content: await state.text(row.id) };
    }),
  );
  return { conversation: conversationView(conversation), messages, active };
}

/** Takes a place for a new answer and claims the conversation for it; nothing is written when refused. */
async function reserve(
  user: { id: string },
  conversation: TutorConversation,
): Promise<{ answerId: string; position: number }> {
  const runner = getGenerationRunner();
  const answerId = randomUUID();
  // The conversation and a place are asked for at once (one round trip); whichever is refused
  // gives the other back. A second message while one is answered is a conflict, whatever the line.
  const [claimed, position] = await Promise.all([
    runner.state.claim(
      conversation.id,
      { messageId: answerId, instanceId: getInstanceId(), state: "queued", position: 0 },
      generationLeaseMs,
    ),
    runner.slots.acquire(user.id, answerId),
  ]);
  if (!claimed) {
    if (position !== "full") await runner.slots.release(user.id, answerId);
    throw new TRPCError({ code: "CONFLICT", message: "The tutor is still answering here; wait or press Stop first" });
  }
  if (position === "full") {
    await runner.state.clear(conversation.id, answerId);
    throw tooManyRequests(
      5,
      "You have as many answers running and waiting as allowed; stop one or wait for one to finish",
    );
  }
  return { answerId, position };
}

async function begin(
  user: { id: string; name: string },
  conversation: TutorConversation,
  reserved: { answerId: string; position: number },
  write: () => Promise<StoredMessage>,
): Promise<StoredMessage> {
  const runner = getGenerationRunner();
  let answer: StoredMessage;
  try {
    answer = await write();
  } catch (error) {
    await Promise.allSettled([
      runner.slots.release(user.id, reserved.answerId),
      runner.state.clear(conversation.id, reserved.answerId),
    ]);
    throw error;
  }
  runner.start({ user, conversation, answerId: answer.id }, reserved.position);
  return answer;
}

/** The learner says something: it is stored, corrected beside the answer, and answered. */
export async function send(
  user: { id: string; name: string },
  conversationId: string,
  text: string,
): Promise<{ message: MessageView; answerId: string; position: number }> {
  const conversation = await ownedConversation(conversationId, user.id);
  const reserved = await reserve(user, conversation);
  let message: MessageView | undefined;
  await begin(user, conversation, reserved, async () => {
    const turn = await addTurn(conversation.id, text, reserved.answerId);
    message = messageView(turn.userMessage);
    await Promise.all([
      // Said before the answer's first event, so every tab shows the question above its answer.
      publishTutorEvent(conversation.id, { type: "message", message }).catch((error: unknown) =>
        getLogger().warn({ err: describeError(error) }, "could not announce a learner's message"),
      ),
      // The answer's prompt must hold this turn; it is added before the runner reads the context.
      getWorkingContexts().append(conversation.id, [{ role: "user", content: text }]),
    ]);
    return turn.answer;
  });
  if (!message) throw new Error("the turn was not written");
  void correctMessage(conversation.id, message.id, text, conversation.level);
  return { message, answerId: reserved.answerId, position: reserved.position };
}

/** Stops the conversation's answer, wherever it runs. */
export async function stop(userId: string, conversationId: string): Promise<{ stopped: boolean }> {
  const conversation = await ownedConversation(conversationId, userId);
  const runner = getGenerationRunner();
  const active = await runner.state.active(conversation.id);
  if (!active) return { stopped: false };
  await runner.stop(active.messageId).catch(() => {
    throw new TRPCError({
      code: "SERVICE_UNAVAILABLE",
      message: "Stop could not reach the server answering; try again",
    });
  });
  return { stopped: true };
}

/** Answers the last learner message again, replacing what came after it. */
export async function regenerate(
  user: { id: string; name: string },
  conversationId: string,
): Promise<{ answerId: string; position: number }> {
  const conversation = await ownedConversation(conversationId, user.id);
  const rows = await listMessages(conversation.id);
  const lastUser = rows.findLast((row) => row.role === "user");
  if (!lastUser) throw new TRPCError({ code: "BAD_REQUEST", message: "There is nothing to answer again yet" });
  return replaceAfter(user, conversation, lastUser);
}

/** Changes a learner message and answers it again; everything after it is removed. */
export async function editAndResend(
  user: { id: string; name: string },
  conversationId: string,
  messageId: string,
  text: string,
): Promise<{ message: MessageView; answerId: string; position: number }> {
  const conversation = await ownedConversation(conversationId, user.id);
  const rows = await listMessages(conversation.id);
  const target = rows.find((row) => row.id === messageId && row.role === "user");
  if (!target)
    throw new TRPCError({ code: "NOT_FOUND", message: "No message of yours with this id in this conversation" });
  const message = messageView({ ...target, content: text, correction: null });
  const result = await replaceAfter(user, conversation, target, async () => {
    await replaceUserText(target.id, text);
    await publishTutorEvent(conversation.id, { type: "message", message }).catch(() => undefined);
  });
  void correctMessage(conversation.id, message.id, text, conversation.level);
  return { message, ...result };
}

async function replaceAfter(
  user: { id: string; name: string },
  conversation: TutorConversation,
  keep: StoredMessage,
  change: () => Promise<void> = async () => {},
): Promise<{ answerId: string; position: number }> {
  const reserved = await reserve(user, conversation);
  await begin(user, conversation, reserved, async () => {
    await removeAfter(conversation.id, keep.seq);
    // Said before the new answer's first event: clients drop what followed, then see the new answer.
    await publishTutorEvent(conversation.id, { type: "truncate", afterMessageId: keep.id }).catch(() => undefined);
    await change();
    // The working context still holds the removed turns; it is rebuilt from the record.
    await getWorkingContexts().invalidate(conversation.id);
    return addAnswer(conversation.id, reserved.answerId);
  });
  return reserved;
}
