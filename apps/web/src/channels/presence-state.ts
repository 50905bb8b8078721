import type { ChannelMember, ChannelPresenceEvent } from "@plauder/api";

/**
 * Who is in one channel, as the presence subscription tells it: a snapshot, then joins and leaves.
 * Past the server's listing limit only the count travels, and `members` is `null`.
 */
export type PresenceState = {
  channel: string;
  members: ChannelMember[] | null;
  count: number;
  error: string | null;
};

export type PresenceAction =
  | { type: "subscribing"; channel: string }
  | { type: "event"; event: ChannelPresenceEvent }
  | { type: "failed"; message: string };

export const initialPresenceState = (channel: string): PresenceState => ({
  channel,
  members: [],
  count: 0,
  error: null,
});

const byName = (a: ChannelMember, b: ChannelMember) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id);

export function presenceReducer(state: PresenceState, action: PresenceAction): PresenceState {
  switch (action.type) {
    case "subscribing":
      // The same channel keeps its list until the new snapshot replaces it: no flicker on a reconnect.
      return action.channel === state.channel ? { ...state, error: null } : initialPresenceState(action.channel);
    case "failed":
      return { ...state, error: action.message };
    case "event": {
      const { event } = action;
      if (event.channel !== state.channel) return state;
      switch (event.type) {
        case "snapshot":
          return { ...state, members: event.users && [...event.users].sort(byName), count: event.count, error: null };
        case "count":
          return { ...state, members: null, count: event.count };
        case "join": {
          if (!state.members) return { ...state, count: state.count + 1 };
          if (state.members.some((member) => member.id === event.user.id)) return state;
          const members = [...state.members, event.user].sort(byName);
          return { ...state, members, count: members.length };
        }
        case "leave": {
          if (!state.members) return { ...state, count: Math.max(0, state.count - 1) };
          const members = state.members.filter((member) => member.id !== event.user.id);
          return { ...state, members, count: members.length };
        }
      }
    }
  }
}
