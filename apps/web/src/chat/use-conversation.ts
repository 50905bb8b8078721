"use client";

import { decodeTutorEvent } from "@plauder/api/tutor-events";
import { useCallback, useEffect, useReducer, useRef, useState } from "react";
import { type ResumePoint, subscribeResuming } from "~/channels/subscribe-resuming";
import { useLiveConnection } from "~/channels/use-live-connection";
import { errorMessage } from "~/lib/error-message";
import {
  type ConversationAction,
  type ConversationState,
  conversationReducer,
  initialConversationState,
} from "./conversation-state";

export type LiveConversation = {
  state: ConversationState;
  /** `live` once subscribed and loaded; otherwise what is in the way. */
  status: "connecting" | "loading" | "live" | "reconnecting" | "offline" | "failed";
  /** The subscription's failure, when the server refused it. */
  error: string | null;
  dispatch: (action: ConversationAction) => void;
  /** Subscribes again after a failure. */
  retry(): void;
};

/**
 * One tutor conversation, live: subscribes to its channel first, loads the snapshot on every sync
 * that may have missed something, and applies the tutor's events (see conversation-state.ts).
 */
export function useConversation(conversationId: string, channel: string): LiveConversation {
  const { connection, state: connectionState, generation } = useLiveConnection();
  // The component that calls this is keyed by the conversation: another conversation, a fresh state.
  const [state, dispatch] = useReducer(conversationReducer, conversationId, initialConversationState);
  const [subscriptionError, setSubscriptionError] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);
  const [synced, setSynced] = useState(false);
  const resumeFrom = useRef<ResumePoint | null>(null);
  const tokens = useRef(0);
  const reloadRef = useRef<(() => void) | null>(null);
  const online = connectionState !== "offline";

  // biome-ignore lint/correctness/useExhaustiveDependencies: a new generation or attempt means subscribe again.
  useEffect(() => {
    if (!connection || !online) return;
    let active = true;
    setSubscriptionError(null);
    setSynced(false);
    const reload = () => {
      tokens.current += 1;
      const token = tokens.current;
      dispatch({ type: "reloadStarted", token });
      connection.api.tutor.conversation.query({ conversationId }).then(
        (snapshot) => active && dispatch({ type: "snapshot", token, snapshot }),
        (error: unknown) => active && dispatch({ type: "reloadFailed", token, message: errorMessage(error) }),
      );
    };
    reloadRef.current = reload;
    const unsubscribe = subscribeResuming(connection, channel, resumeFrom, {
      onPublication: (publication) => {
        const event = decodeTutorEvent(publication);
        if (event) dispatch({ type: "event", event });
      },
      onSync: (sync) => {
        setSynced(true);
        if (!sync.recovered) reload();
      },
      onError: (error) => setSubscriptionError(errorMessage(error)),
      onReconnecting: () => setSynced(false),
    });
    return () => {
      active = false;
      reloadRef.current = null;
      unsubscribe();
    };
  }, [connection, conversationId, channel, online, generation, attempt]);

  // A gap in an answer, or an unknown message: load the conversation again.
  useEffect(() => {
    if (state.stale && state.reloading === null) reloadRef.current?.();
  }, [state.stale, state.reloading]);

  const retry = useCallback(() => setAttempt((previous) => previous + 1), []);

  let status: LiveConversation["status"];
  if (subscriptionError) status = "failed";
  else if (connectionState === "offline" || connectionState === "reconnecting") status = connectionState;
  else if (!synced || connectionState === "connecting") status = "connecting";
  else status = state.loaded && state.reloading === null ? "live" : "loading";
  return { state, status, error: subscriptionError, dispatch, retry };
}
