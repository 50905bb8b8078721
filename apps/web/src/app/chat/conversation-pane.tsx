"use client";

import type { ConversationView } from "@plauder/api/tutor-events";
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from "react";
import { activeAnswer, lastAnswer } from "~/chat/conversation-state";
import { useConversation } from "~/chat/use-conversation";
import { errorMessage } from "~/lib/error-message";
import { useRealtimeConnection } from "~/realtime/context";
import { Composer } from "./composer";
import { LearnerMessage, TutorMessage } from "./message-item";
import { ScenarioBrief } from "./scenario-brief";

const statusLabels = {
  connecting: "Connecting…",
  loading: "Loading…",
  live: "Live",
  reconnecting: "Reconnecting…",
  offline: "Offline",
  failed: "Not available",
} as const;

/** One conversation: its scenario, its messages as they stream, and the composer. */
export function ConversationPane({
  conversation,
  maxLength,
  tutorBlocked,
  focusOnOpen,
}: {
  conversation: ConversationView;
  maxLength: number;
  /** Opened by the learner's choice (not by loading the page): the composer takes the focus. */
  focusOnOpen: boolean;
  /** Why the tutor cannot answer now, if so. */
  tutorBlocked: string | null;
}) {
  const connection = useRealtimeConnection();
  const live = useConversation(conversation.id, conversation.channel);
  const { state, dispatch } = live;
  const [sending, setSending] = useState(false);
  const [stopping, setStopping] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);
  const field = useRef<HTMLTextAreaElement>(null);
  const list = useRef<HTMLDivElement>(null);
  const pinned = useRef(true);

  const active = activeAnswer(state);
  const last = lastAnswer(state);
  const busy = active !== null;
  const blocked =
    tutorBlocked ??
    (live.status === "offline" || live.status === "reconnecting"
      ? "Not connected: sending waits for the connection."
      : null);

  // Follow the conversation's end while the reader is there; leave them where they scrolled to otherwise.
  const onScroll = () => {
    const element = list.current;
    if (element) pinned.current = element.scrollHeight - element.scrollTop - element.clientHeight < 80;
  };
  // biome-ignore lint/correctness/useExhaustiveDependencies: scroll whenever the messages change.
  useLayoutEffect(() => {
    const element = list.current;
    if (element && pinned.current) element.scrollTop = element.scrollHeight;
  }, [state.messages]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: on opening only.
  useEffect(() => {
    if (focusOnOpen) field.current?.focus();
  }, []);

  // When Stop disappears under the keyboard focus (the answer ended), focus returns to the composer.
  useEffect(() => {
    if (busy) return;
    setStopping(false);
    if (document.activeElement === document.body) field.current?.focus();
  }, [busy]);

  const run = useCallback(
    async <T,>(work: () => Promise<T>): Promise<T | null> => {
      if (!connection) return null;
      setFailure(null);
      try {
        return await work();
      } catch (error) {
        setFailure(errorMessage(error));
        return null;
      }
    },
    [connection],
  );

  const send = async (text: string) => {
    if (!connection) return false;
    setSending(true);
    pinned.current = true;
    const result = await run(() => connection.api.tutor.send.mutate({ conversationId: conversation.id, text }));
    setSending(false);
    if (!result) return false;
    dispatch({ type: "sent", ...result });
    return true;
  };

  const stop = async () => {
    if (!connection) return;
    setStopping(true);
    const result = await run(() => connection.api.tutor.stop.mutate({ conversationId: conversation.id }));
    if (!result) setStopping(false);
  };

  const regenerate = async () => {
    if (!connection) return;
    const lastLearner = state.messages.findLast((message) => message.role === "user");
    if (!lastLearner) return;
    pinned.current = true;
    const result = await run(() => connection.api.tutor.regenerate.mutate({ conversationId: conversation.id }));
    if (result) dispatch({ type: "regenerating", afterMessageId: lastLearner.id, ...result });
  };

  const edit = async (messageId: string, text: string) => {
    if (!connection) return false;
    const result = await run(() =>
      connection.api.tutor.edit.mutate({ conversationId: conversation.id, messageId, text }),
    );
    if (!result) return false;
    dispatch({ type: "regenerating", afterMessageId: messageId, answerId: result.answerId, position: result.position });
    dispatch({ type: "sent", ...result });
    return true;
  };

  const { scenario } = conversation;
  const canChange = !busy && !tutorBlocked && live.status === "live";
  return (
    <section className="chat-pane" aria-labelledby="conversation-title">
      <header className="chat-pane-head">
        <div className="chat-pane-title">
          <h1 id="conversation-title" lang="de">
            {conversation.title}
          </h1>
          <p className="chat-pane-meta">
            <span className="tag tag-level">
              <span className="sr-only">Level </span>
              {conversation.level}
            </span>
            {scenario ? <span lang="en">{scenario.titleEn}</span> : <span>Free conversation</span>}
            <span className={`channel-status channel-status-${live.status}`} data-testid="conversation-status">
              {statusLabels[live.status]}
            </span>
          </p>
        </div>
        {scenario && (
          <details className="scenario-details">
            <summary>Scenario</summary>
            <ScenarioBrief scenario={scenario} />
          </details>
        )}
      </header>

      {live.error && (
        <div className="banner" role="alert">
          {live.error}{" "}
          <button type="button" className="button button-quiet button-small" onClick={live.retry}>
            Try again
          </button>
        </div>
      )}
      {state.error && !live.error && (
        <div className="banner" role="alert">
          Could not load the conversation: {state.error}{" "}
          <button type="button" className="button button-quiet button-small" onClick={live.retry}>
            Try again
          </button>
        </div>
      )}

      <div className="chat-messages" ref={list} onScroll={onScroll} data-testid="messages">
        {state.loaded && state.messages.length === 0 && (
          <p className="chat-empty muted">Say hello — auf Deutsch, so gut du kannst. Mistakes are welcome here.</p>
        )}
        {!state.loaded && !live.error && <p className="chat-empty muted">Loading the conversation…</p>}
        <ol className="messages" aria-label="Messages">
          {state.messages.map((message) =>
            message.role === "user" ? (
              <LearnerMessage
                key={message.id}
                message={message}
                maxLength={maxLength}
                canEdit={canChange}
                onEdit={(text) => edit(message.id, text)}
              />
            ) : (
              <TutorMessage
                key={message.id}
                message={message}
                canRegenerate={canChange}
                onRegenerate={message.id === last?.id ? () => void regenerate() : undefined}
              />
            ),
          )}
        </ol>
      </div>
      {/* Screen readers hear each answer once it has ended, not token by token. */}
      <div className="sr-only" aria-live="polite" aria-atomic="true" data-testid="answer-announcement">
        {state.announcement?.text}
      </div>

      {failure && (
        <p className="form-error chat-failure" role="alert">
          {failure}
        </p>
      )}
      <Composer
        maxLength={maxLength}
        busy={busy}
        blocked={blocked}
        sending={sending}
        stopping={stopping}
        onSend={send}
        onStop={() => void stop()}
        field={field}
      />
    </section>
  );
}
