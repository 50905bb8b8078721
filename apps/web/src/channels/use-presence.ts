"use client";

import type { ChannelMember } from "@plauder/api";
import { useEffect, useReducer } from "react";
import { errorMessage } from "~/lib/error-message";
import { initialPresenceState, presenceReducer } from "./presence-state";
import { useLiveConnection } from "./use-live-connection";

export type ChannelPresence = {
  /** Who is in the channel, by name; `null` when there are too many to list (see `count`). */
  members: ChannelMember[] | null;
  count: number;
  /** The server's sentence when the presence subscription was refused. */
  error: string | null;
};

/**
 * Who is in a channel on any instance, each person once however many tabs they have. Watching
 * counts as being there: the server lists this page's person too. After a dropped connection
 * wsLink subscribes again by itself and the new snapshot replaces the list; after a manual
 * reconnect this hook subscribes again.
 */
export function usePresence(channel: string): ChannelPresence {
  const { connection, state: connectionState, generation } = useLiveConnection();
  const [stored, dispatch] = useReducer(presenceReducer, channel, initialPresenceState);
  const state = stored.channel === channel ? stored : initialPresenceState(channel);
  const online = connectionState !== "offline";

  // biome-ignore lint/correctness/useExhaustiveDependencies: a new generation means subscribe again.
  useEffect(() => {
    if (!connection || !online) return;
    let active = true;
    dispatch({ type: "subscribing", channel });
    const subscription = connection.api.channels.presence.subscribe(
      { channel },
      {
        onData: (event) => active && dispatch({ type: "event", event }),
        onError: (error) => active && dispatch({ type: "failed", message: errorMessage(error) }),
      },
    );
    return () => {
      active = false;
      subscription.unsubscribe();
    };
  }, [connection, channel, online, generation]);

  return { members: state.members, count: state.count, error: state.error };
}
