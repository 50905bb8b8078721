"use client";

import type { ChannelPublication, PublicationKind, PublishAck } from "@plauder/api";
import { useCallback, useEffect, useReducer, useRef, useState } from "react";
import { errorCode, errorMessage } from "~/lib/error-message";
import { type ChannelState, channelReducer, initialChannelState } from "./channel-state";
import { oldestDurableOffset } from "./publications";
import { type ResumePoint, subscribeResuming } from "./subscribe-resuming";
import { type LiveConnection, useLiveConnection } from "./use-live-connection";

/** A history page: what a channel view loads on opening, after a break, and per loadOlder. */
const historyPageSize = 50;

/**
 * `live` once the subscription's sync arrived and no reload is under way; `loading` while history
 * reloads; `failed` once the server refused the subscription (see `error`), until `retry`.
 */
export type ChannelStatus = "connecting" | "reconnecting" | "offline" | "loading" | "live" | "failed";

export type LiveChannel = {
  channel: string;
  publications: ChannelPublication[];
  status: ChannelStatus;
  /** The server's sentence when something failed: the subscription, a history load. */
  error: string | null;
  /** The tRPC code of a refused subscription (`FORBIDDEN`, `BAD_REQUEST`…). */
  errorCode: string | null;
  /** The logs the last resume could not replay in full (their history was reloaded instead). */
  lost: PublicationKind[];
  hasOlder: boolean;
  loadingOlder: boolean;
  /** Publishes; resolves once stored (durable) or sent (ephemeral), rejects with the server's error. */
  publish(text: string, options?: { ephemeral?: boolean }): Promise<PublishAck>;
  /** Loads the history page before the oldest publication shown. */
  loadOlder(): void;
  /** Subscribes again after a failure. */
  retry(): void;
};

function statusOf(state: ChannelState, connection: LiveConnection["state"]): ChannelStatus {
  if (state.phase === "failed") return "failed";
  if (connection !== "connected") return connection;
  if (state.phase === "waiting") return "connecting";
  return state.reload ? "loading" : "live";
}

/**
 * One channel's publications, in order and each once, live over the page's WebSocket.
 *
 * Every subscription's first event is a sync; `recovered: false` (always on a fresh subscription,
 * and whenever a resume or Redis lost something) reloads the channel's history and replaces the
 * list with it. After a dropped connection wsLink resumes by itself with the last position it saw,
 * and the server replays what was missed; after a manual reconnect this hook resumes the same way.
 * Either way a publication that arrives twice shows once (see publications.ts).
 */
export function useChannel(channel: string): LiveChannel {
  const { connection, state: connectionState, generation } = useLiveConnection();
  const [stored, dispatch] = useReducer(channelReducer, channel, initialChannelState);
  // Until the effect below has reset it, the state may still be the previous channel's.
  const state = stored.channel === channel ? stored : initialChannelState(channel);
  // The tracked position of the last event, to resume from after a manual reconnect.
  const resumeFrom = useRef<ResumePoint | null>(null);
  const reloads = useRef(0);
  const [attempt, setAttempt] = useState(0);
  const online = connectionState !== "offline";

  // biome-ignore lint/correctness/useExhaustiveDependencies: a new generation or attempt means subscribe again.
  useEffect(() => {
    if (!connection || !online) return;
    let active = true;
    dispatch({ type: "subscribing", channel });

    const reload = () => {
      reloads.current += 1;
      const token = reloads.current;
      dispatch({ type: "reloadStarted", token });
      connection.api.channels.history.query({ channel, limit: historyPageSize }).then(
        (page) => active && dispatch({ type: "reloaded", token, page }),
        (error: unknown) => active && dispatch({ type: "reloadFailed", token, message: errorMessage(error) }),
      );
    };

    const unsubscribe = subscribeResuming(connection, channel, resumeFrom, {
      onPublication: (publication) => dispatch({ type: "publication", publication }),
      onSync: (sync) => {
        dispatch({ type: "sync", sync });
        if (!sync.recovered) reload();
      },
      onError: (error) => dispatch({ type: "failed", message: errorMessage(error), code: errorCode(error) ?? null }),
      onReconnecting: () => dispatch({ type: "waiting" }),
    });
    return () => {
      active = false;
      unsubscribe();
    };
  }, [connection, channel, online, generation, attempt]);

  const publish = useCallback(
    (text: string, options?: { ephemeral?: boolean }) => {
      if (!connection) return Promise.reject(new Error("Sign in to publish"));
      return connection.api.channels.publish.mutate({ channel, text, ephemeral: options?.ephemeral });
    },
    [connection, channel],
  );

  const { publications, hasOlder, loadingOlder } = state;
  const loadOlder = useCallback(() => {
    if (!connection || !hasOlder || loadingOlder) return;
    dispatch({ type: "olderStarted", channel });
    const before = oldestDurableOffset(publications);
    connection.api.channels.history.query({ channel, before, limit: historyPageSize }).then(
      (page) => dispatch({ type: "olderLoaded", channel, page }),
      (error: unknown) => dispatch({ type: "olderFailed", channel, message: errorMessage(error) }),
    );
  }, [connection, channel, publications, hasOlder, loadingOlder]);

  const retry = useCallback(() => setAttempt((previous) => previous + 1), []);

  return {
    channel,
    publications,
    status: statusOf(state, connectionState),
    error: state.error,
    errorCode: state.errorCode,
    lost: state.lost,
    hasOlder,
    loadingOlder,
    publish,
    loadOlder,
    retry,
  };
}
