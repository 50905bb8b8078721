import type { ChannelPublication, ChannelSync, PublicationKind } from "@plauder/api";
import { fromHistory, withLive, withOlder } from "./publications";

/**
 * What a page knows about one channel, changed only by the actions below: a pure reducer, so the
 * order in which subscription events and history answers arrive is decided in one place.
 */
export type ChannelState = {
  channel: string;
  publications: ChannelPublication[];
  /** `waiting` until the subscription's sync (again after each reconnect), `failed` once refused. */
  phase: "waiting" | "live" | "failed";
  /** The server's sentence when the subscription or a history load failed. */
  error: string | null;
  /** The tRPC code of a refusal (`FORBIDDEN`…), so the page can tell "not allowed" from "try again". */
  errorCode: string | null;
  /** What the last sync said could not be replayed. */
  lost: PublicationKind[];
  /**
   * The history reload under way, if any: its token (a later reload supersedes it) and what arrived
   * live since it started, which its page may not hold yet.
   */
  reload: { token: number; live: ChannelPublication[] } | null;
  hasOlder: boolean;
  loadingOlder: boolean;
};

type HistoryPage = { publications: ChannelPublication[]; hasMore: boolean };

export type ChannelAction =
  | { type: "subscribing"; channel: string }
  | { type: "waiting" }
  | { type: "sync"; sync: ChannelSync }
  | { type: "reloadStarted"; token: number }
  | { type: "reloaded"; token: number; page: HistoryPage }
  | { type: "reloadFailed"; token: number; message: string }
  | { type: "publication"; publication: ChannelPublication }
  | { type: "olderStarted"; channel: string }
  | { type: "olderLoaded"; channel: string; page: HistoryPage }
  | { type: "olderFailed"; channel: string; message: string }
  | { type: "failed"; message: string; code: string | null };

export function initialChannelState(channel: string): ChannelState {
  return {
    channel,
    publications: [],
    phase: "waiting",
    error: null,
    errorCode: null,
    lost: [],
    reload: null,
    hasOlder: false,
    loadingOlder: false,
  };
}

export function channelReducer(state: ChannelState, action: ChannelAction): ChannelState {
  switch (action.type) {
    case "subscribing":
      // A new channel starts empty; the same channel (a resume after a manual reconnect) keeps its list.
      if (action.channel !== state.channel) return initialChannelState(action.channel);
      // A reload of the previous subscription is abandoned; the new subscription's sync says whether to reload.
      return { ...state, phase: "waiting", error: null, errorCode: null, reload: null };
    case "waiting":
      return state.phase === "failed" ? state : { ...state, phase: "waiting" };
    case "sync":
      return { ...state, phase: "live", lost: action.sync.lost };
    case "reloadStarted":
      return { ...state, reload: { token: action.token, live: [] } };
    case "reloaded":
      if (state.reload?.token !== action.token) return state;
      // Replaces the list: whatever was shown before the break may be incomplete or out of date.
      return {
        ...state,
        publications: fromHistory(action.page.publications, state.reload.live),
        hasOlder: action.page.hasMore,
        reload: null,
        error: null,
      };
    case "reloadFailed":
      if (state.reload?.token !== action.token) return state;
      return { ...state, reload: null, error: action.message, errorCode: null };
    case "publication": {
      const { publication } = action;
      // Kept for the reload even when already shown: the reload replaces the list, and its page may lack it.
      const reload =
        state.reload && !state.reload.live.some((seen) => seen.id === publication.id)
          ? { ...state.reload, live: [...state.reload.live, publication] }
          : state.reload;
      const publications = withLive(state.publications, publication);
      if (publications === state.publications && reload === state.reload) return state;
      const dropped = publications !== state.publications && publications.length <= state.publications.length;
      return { ...state, publications, reload, hasOlder: state.hasOlder || dropped };
    }
    case "olderStarted":
      return action.channel === state.channel ? { ...state, loadingOlder: true } : state;
    case "olderLoaded":
      // An answer for a channel the page has left since is dropped.
      if (action.channel !== state.channel) return state;
      return {
        ...state,
        publications: withOlder(state.publications, action.page.publications),
        hasOlder: action.page.hasMore,
        loadingOlder: false,
      };
    case "olderFailed":
      if (action.channel !== state.channel) return state;
      return { ...state, loadingOlder: false, error: action.message, errorCode: null };
    case "failed":
      return { ...state, phase: "failed", error: action.message, errorCode: action.code, reload: null };
  }
}
