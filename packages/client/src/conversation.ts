import {
  applyDelta,
  blankAnswerView,
  type ConversationView,
  decodeTutorEvent,
  finalStatuses,
  type MessageView,
  type TutorEvent,
} from "@plauder/api/tutor-events";
import { type ChannelSubscription, subscribeChannel } from "./channels";
import type { PlauderClient } from "./client";

/** A correction of a learner's message, as the tutor sends it. */
export type TutorCorrection = NonNullable<MessageView["correction"]>;

/** The conversation as a follower has it: the record's messages, with the answer under way as far as it has arrived. */
export type ConversationState = {
  conversation: ConversationView;
  messages: MessageView[];
};

export type ConversationHandlers = {
  /**
   * The first snapshot arrived (after the subscription's first `sync`): the conversation as it
   * stands, the answer under way with its text so far. Everything after it is a change.
   */
  onReady?: (state: ConversationState) => void;
  /** A message was added or changed: a learner's message (from this or another tab) or an answer that is new here. */
  onMessage?: (message: MessageView) => void;
  /** Messages were removed (regenerate, edit): those after `afterMessageId`, or all when null. */
  onTruncate?: (afterMessageId: string | null, removed: MessageView[]) => void;
  /** An answer waits for a place; `position` 1 is next. */
  onQueued?: (messageId: string, position: number) => void;
  /** An answer's text grew: `text` is all of it so far, `added` what is new. */
  onText?: (message: MessageView, added: string) => void;
  /** An answer ended: complete, stopped or failed (with `message.error`). */
  onEnd?: (message: MessageView) => void;
  /** The correction of a learner's message arrived. */
  onCorrection?: (message: MessageView, correction: TutorCorrection) => void;
  /** No correction could be had for a learner's message. */
  onCorrectionFailed?: (messageId: string, reason: string) => void;
  /** Reading the snapshot failed (the next `sync` tries again). */
  onSnapshotFailed?: (error: unknown) => void;
  /** The subscription ended with the server's error (FORBIDDEN, BAD_REQUEST, …). */
  onError?: (error: unknown) => void;
};

export type ConversationFollower = {
  /** Resolves with the first snapshot; rejects when the subscription fails before it. */
  readonly ready: Promise<ConversationState>;
  state(): ConversationState | null;
  message(id: string): MessageView | undefined;
  /** Resolves with the message once it has ended (complete, stopped or failed). */
  settled(messageId: string): Promise<MessageView>;
  /** Reads the snapshot again and merges it (what a `sync` does). */
  resync(): Promise<void>;
  stop(): void;
};

const isFinal = (status: MessageView["status"]): boolean => (finalStatuses as readonly string[]).includes(status);

/**
 * Follows a tutor conversation the way the server's contract asks: subscribe to its channel first,
 * then, on every `sync` (the first one and each after a reconnect), read `tutor.conversation` and
 * merge it with what the channel delivered meanwhile; deltas are placed by their offset, so a
 * repeat changes nothing and a gap (a delta past the end of the text) reads the snapshot again.
 */
export function followConversation(
  client: Pick<PlauderClient, "api">,
  conversationId: string,
  handlers: ConversationHandlers = {},
): ConversationFollower {
  const channel = `conversation:${conversationId}`;
  let current: ConversationState | null = null;
  let stopped = false;
  /** Events that arrived while a snapshot was being read: applied on top of it. */
  let held: TutorEvent[] | null = null;
  let fetching: Promise<void> | null = null;
  let again = false;
  const waiters = new Map<string, Array<(message: MessageView) => void>>();

  let markReady: (state: ConversationState) => void = () => {};
  let failReady: (error: unknown) => void = () => {};
  let isReady = false;
  const ready = new Promise<ConversationState>((resolve, reject) => {
    markReady = resolve;
    failReady = reject;
  });
  ready.catch(() => {});

  const find = (id: string) => current?.messages.find((message) => message.id === id);

  const settle = (message: MessageView) => {
    const list = waiters.get(message.id);
    if (!list) return;
    waiters.delete(message.id);
    for (const resolve of list) resolve(message);
  };

  /** The answer a queued/start/delta/end event speaks of, added when this follower has not seen it yet. */
  const answer = (id: string): MessageView => {
    const known = find(id);
    if (known) return known;
    const added = blankAnswerView(id, new Date().toISOString());
    current?.messages.push(added);
    handlers.onMessage?.(added);
    return added;
  };

  const apply = (event: TutorEvent): void => {
    if (!current) return;
    switch (event.type) {
      case "message": {
        const known = find(event.message.id);
        if (known) {
          if (known.content === event.message.content) return;
          Object.assign(known, event.message, { correction: null });
          handlers.onMessage?.(known);
        } else {
          const added = { ...event.message };
          current.messages.push(added);
          handlers.onMessage?.(added);
        }
        return;
      }
      case "truncate": {
        const from =
          event.afterMessageId === null
            ? 0
            : current.messages.findIndex((message) => message.id === event.afterMessageId) + 1;
        if (event.afterMessageId !== null && from === 0) return;
        // An answer still under way after the mark is the new one (a replayed truncate must not drop it).
        const removed = current.messages
          .slice(from)
          .filter((message) => message.role === "user" || isFinal(message.status));
        if (removed.length === 0) return;
        current.messages = current.messages.filter((message) => !removed.includes(message));
        handlers.onTruncate?.(event.afterMessageId, removed);
        return;
      }
      case "queued": {
        const message = answer(event.messageId);
        if (isFinal(message.status)) return;
        message.status = "queued";
        handlers.onQueued?.(message.id, event.position);
        return;
      }
      case "start": {
        const message = answer(event.messageId);
        if (isFinal(message.status)) return;
        message.status = "streaming";
        message.model = event.model;
        return;
      }
      case "delta": {
        const message = answer(event.messageId);
        const next = applyDelta(message.content, event);
        if (next === null) {
          // Something was missed: the snapshot has the text so far.
          void resync();
          return;
        }
        if (next === message.content) return;
        const added = next.slice(message.content.length);
        message.content = next;
        if (!isFinal(message.status)) message.status = "streaming";
        handlers.onText?.(message, added);
        return;
      }
      case "end": {
        const message = answer(event.messageId);
        if (isFinal(message.status)) return;
        if (message.content.length < event.length) {
          // Pieces were missed; the record has the whole answer now.
          void resync();
          return;
        }
        message.status = event.status;
        message.error = event.error ?? null;
        handlers.onEnd?.(message);
        settle(message);
        return;
      }
      case "correction": {
        const message = find(event.messageId);
        if (!message) return;
        const already = message.correction !== null;
        message.correction = event.correction;
        if (!already) handlers.onCorrection?.(message, event.correction);
        return;
      }
      case "correction-failed":
        handlers.onCorrectionFailed?.(event.messageId, event.reason);
        return;
    }
  };

  /** Takes the record's view and keeps what arrived here that it does not have yet. */
  const merge = (snapshot: ConversationState): void => {
    if (!current) {
      current = { conversation: snapshot.conversation, messages: snapshot.messages.map((m) => ({ ...m })) };
      return;
    }
    const before = current;
    const messages = snapshot.messages.map((fresh) => {
      const known = before.messages.find((message) => message.id === fresh.id);
      if (!known) {
        const added = { ...fresh };
        handlers.onMessage?.(added);
        return added;
      }
      if (fresh.content.length > known.content.length && fresh.content.startsWith(known.content)) {
        const added = fresh.content.slice(known.content.length);
        known.content = fresh.content;
        if (known.role === "assistant") handlers.onText?.(known, added);
      } else if (known.role === "user" && fresh.content !== known.content) {
        known.content = fresh.content;
        handlers.onMessage?.(known);
      }
      if (fresh.correction && !known.correction) {
        known.correction = fresh.correction;
        handlers.onCorrection?.(known, fresh.correction);
      }
      if (isFinal(fresh.status) && !isFinal(known.status)) {
        known.status = fresh.status;
        known.error = fresh.error;
        known.model = fresh.model;
        handlers.onEnd?.(known);
      } else if (!isFinal(known.status)) known.status = fresh.status;
      return known;
    });
    const removed = before.messages.filter((message) => !messages.includes(message));
    if (removed.length > 0) handlers.onTruncate?.(null, removed);
    current = { conversation: snapshot.conversation, messages };
  };

  const readSnapshot = async (): Promise<void> => {
    held = [];
    try {
      const snapshot = await client.api.tutor.conversation.query({ conversationId });
      if (stopped) return;
      merge({ conversation: snapshot.conversation, messages: snapshot.messages });
      const events = held;
      held = null;
      if (!isReady && current) {
        isReady = true;
        handlers.onReady?.(current);
        markReady(current);
      }
      for (const event of events) apply(event);
      for (const message of current?.messages ?? []) if (isFinal(message.status)) settle(message);
    } catch (error) {
      held = null;
      if (!stopped) handlers.onSnapshotFailed?.(error);
    }
  };

  /** One snapshot read at a time; a request during a read reads once more after it. */
  const resync = (): Promise<void> => {
    if (fetching) {
      again = true;
      return fetching;
    }
    fetching = (async () => {
      do {
        again = false;
        await readSnapshot();
      } while (again && !stopped);
    })().finally(() => {
      fetching = null;
    });
    return fetching;
  };

  const subscription: ChannelSubscription = subscribeChannel(client, channel, {
    onSync: () => void resync(),
    onPublication: (publication, source) => {
      // The history holds nothing of the tutor's (its events are ephemeral), and the snapshot supersedes it.
      if (source === "history") return;
      const event = decodeTutorEvent(publication);
      if (!event) return;
      if (held) held.push(event);
      else if (current) apply(event);
    },
    onError: (error) => {
      stopped = true;
      if (!isReady) failReady(error);
      handlers.onError?.(error);
    },
  });

  return {
    ready,
    state: () => current,
    message: find,
    settled(messageId) {
      const known = find(messageId);
      if (known && isFinal(known.status)) return Promise.resolve(known);
      return new Promise((resolve) => {
        waiters.set(messageId, [...(waiters.get(messageId) ?? []), resolve]);
      });
    },
    resync,
    stop() {
      stopped = true;
      subscription.unsubscribe();
    },
  };
}
