import { applyDelta, blankAnswerView, type MessageView, type TutorEvent } from "@plauder/api/tutor-events";

/**
 * One tutor conversation as the chat page shows it: the messages of the last snapshot
 * (`tutor.conversation`) with the tutor's events applied on top. Pure: the page's hook feeds it
 * snapshots and events, and reloads when `stale` says something was missed.
 *
 * How nothing is lost or doubled: the page subscribes to the conversation's channel first and asks
 * for a snapshot on every sync. Events that arrive while a snapshot is on its way are applied at
 * once (so the answer keeps streaming) and also kept; when the snapshot lands, it replaces the
 * state and the kept events are applied to it again. Each event can be applied twice safely:
 * deltas go by character offset, messages are upserted by id, and a message's status only moves
 * forward (queued → streaming → complete | stopped | failed).
 */

export type ChatMessage = MessageView & {
  /** Place in line of a queued answer (1: next), when known. */
  place: number | null;
  /** Why this learner message has no correction (`correction-failed`), when that was said. */
  correctionError: string | null;
  /** A correction is on its way (the message was sent or edited while this page watched). */
  correctionPending: boolean;
};

export type ConversationSnapshot = {
  messages: MessageView[];
  active: { messageId: string; state: "queued" | "streaming"; position: number } | null;
};

export type ConversationState = {
  conversationId: string;
  messages: ChatMessage[];
  /** Whether a snapshot has been applied yet. */
  loaded: boolean;
  /** The snapshot request under way, if any. */
  reloading: number | null;
  /** Events received since that request was made, applied again on its result. */
  pending: TutorEvent[];
  /** Something was missed (a gap in an answer, an unknown message): reload. */
  stale: boolean;
  /** The last snapshot request's failure. */
  error: string | null;
  /** What the polite live region says: set when an answer ends, never per token. */
  announcement: { id: number; text: string } | null;
};

export type ConversationAction =
  | { type: "reloadStarted"; token: number }
  | { type: "snapshot"; token: number; snapshot: ConversationSnapshot }
  | { type: "reloadFailed"; token: number; message: string }
  | { type: "event"; event: TutorEvent }
  /** This page sent or edited a learner message: the server's answer to the mutation. */
  | { type: "sent"; message: MessageView; answerId: string; position: number }
  /** This page asked for the last answer again (or an edit): drop what followed `afterMessageId`. */
  | { type: "regenerating"; afterMessageId: string; answerId: string; position: number };

export function initialConversationState(conversationId: string): ConversationState {
  return {
    conversationId,
    messages: [],
    loaded: false,
    reloading: null,
    pending: [],
    stale: false,
    error: null,
    announcement: null,
  };
}

const statusRank: Record<MessageView["status"], number> = {
  queued: 0,
  streaming: 1,
  complete: 2,
  stopped: 2,
  failed: 2,
};

export const isFinal = (status: MessageView["status"]) => statusRank[status] === 2;
export const isUnderWay = (status: MessageView["status"]) => !isFinal(status);

function fromView(view: MessageView, previous?: ChatMessage): ChatMessage {
  return {
    ...view,
    place: null,
    correctionError: view.correction ? null : (previous?.correctionError ?? null),
    correctionPending: view.correction ? false : (previous?.correctionPending ?? false),
  };
}

function blankAnswer(id: string): ChatMessage {
  return { ...blankAnswerView(id), place: null, correctionError: null, correctionPending: false };
}

type Working = { messages: ChatMessage[]; stale: boolean; announcement: ConversationState["announcement"] };

function indexOf(messages: ChatMessage[], id: string): number {
  return messages.findIndex((message) => message.id === id);
}

/** The answer with this id, created at the end when this page has not seen it yet. */
function ensureAnswer(work: Working, id: string): ChatMessage {
  const index = indexOf(work.messages, id);
  if (index >= 0) return work.messages[index] as ChatMessage;
  const created = blankAnswer(id);
  work.messages = [...work.messages, created];
  return created;
}

function replace(work: Working, next: ChatMessage): void {
  work.messages = work.messages.map((message) => (message.id === next.id ? next : message));
}

function truncateAfter(work: Working, afterMessageId: string | null): void {
  if (afterMessageId === null) {
    work.messages = [];
    return;
  }
  const index = indexOf(work.messages, afterMessageId);
  if (index < 0) {
    work.stale = true;
    return;
  }
  work.messages = work.messages.slice(0, index + 1);
}

/** Markdown as it reads aloud: link texts without their addresses, no emphasis or heading marks. */
export function spokenText(markdown: string): string {
  return markdown
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/[*_`#]+/g, "")
    .replace(/\s+/g, " ")
    .trim();
}

function endSentence(message: ChatMessage): string {
  const text = spokenText(message.content);
  switch (message.status) {
    case "complete":
      return `The tutor answered: ${text}`;
    case "stopped":
      return text ? `The answer was stopped: ${text}` : "The answer was stopped.";
    default:
      return `The answer failed${message.error ? `: ${message.error}` : "."}`;
  }
}

function apply(work: Working, event: TutorEvent, live: boolean): void {
  switch (event.type) {
    case "message": {
      const index = indexOf(work.messages, event.message.id);
      const previous = index >= 0 ? work.messages[index] : undefined;
      const next = fromView(event.message, previous);
      if (event.message.role === "user" && !event.message.correction) {
        if (previous && previous.content === event.message.content) {
          // Said again (a replay after a snapshot): what is known about its correction stays.
          next.correction = previous.correction;
        } else {
          // A new or changed learner message is being corrected now.
          next.correctionPending = true;
          next.correctionError = null;
        }
      }
      if (index >= 0) replace(work, next);
      else work.messages = [...work.messages, next];
      return;
    }
    case "truncate":
      truncateAfter(work, event.afterMessageId);
      return;
    case "queued": {
      const answer = ensureAnswer(work, event.messageId);
      if (answer.status === "queued") replace(work, { ...answer, place: event.position });
      return;
    }
    case "start": {
      const answer = ensureAnswer(work, event.messageId);
      if (isFinal(answer.status)) return;
      replace(work, { ...answer, status: "streaming", model: event.model, place: null });
      return;
    }
    case "delta": {
      const answer = ensureAnswer(work, event.messageId);
      if (isFinal(answer.status)) return;
      const content = applyDelta(answer.content, event);
      if (content === null) {
        work.stale = true;
        return;
      }
      replace(work, { ...answer, content, status: "streaming", place: null });
      return;
    }
    case "end": {
      const answer = ensureAnswer(work, event.messageId);
      const wasFinal = isFinal(answer.status);
      const ended: ChatMessage = { ...answer, status: event.status, error: event.error ?? null, place: null };
      replace(work, ended);
      if (answer.content.length !== event.length) work.stale = true;
      if (live && !wasFinal) {
        work.announcement = { id: (work.announcement?.id ?? 0) + 1, text: endSentence(ended) };
      }
      return;
    }
    case "correction": {
      const index = indexOf(work.messages, event.messageId);
      const message = work.messages[index];
      if (!message) return;
      replace(work, { ...message, correction: event.correction, correctionError: null, correctionPending: false });
      return;
    }
    case "correction-failed": {
      const index = indexOf(work.messages, event.messageId);
      const message = work.messages[index];
      if (!message || message.correction) return;
      replace(work, { ...message, correctionError: event.reason, correctionPending: false });
      return;
    }
  }
}

function withWork(state: ConversationState, change: (work: Working) => void): ConversationState {
  const work: Working = { messages: state.messages, stale: state.stale, announcement: state.announcement };
  change(work);
  return { ...state, messages: work.messages, stale: work.stale, announcement: work.announcement };
}

/** The messages of a snapshot, keeping what this page knew about corrections under way or refused. */
function snapshotMessages(snapshot: ConversationSnapshot, previous: ChatMessage[]): ChatMessage[] {
  const known = new Map(previous.map((message) => [message.id, message]));
  return snapshot.messages.map((view) => {
    const message = fromView(view, known.get(view.id));
    if (snapshot.active?.messageId === view.id && view.status === "queued") message.place = snapshot.active.position;
    return message;
  });
}

export function conversationReducer(state: ConversationState, action: ConversationAction): ConversationState {
  switch (action.type) {
    case "reloadStarted":
      return { ...state, reloading: action.token, pending: [], stale: false };
    case "snapshot": {
      if (action.token !== state.reloading) return state;
      const base: ConversationState = {
        ...state,
        messages: snapshotMessages(action.snapshot, state.messages),
        loaded: true,
        reloading: null,
        pending: [],
        stale: false,
        error: null,
      };
      return withWork(base, (work) => {
        for (const event of state.pending) apply(work, event, false);
      });
    }
    case "reloadFailed":
      if (action.token !== state.reloading) return state;
      return { ...state, reloading: null, pending: [], error: action.message };
    case "event": {
      const next = withWork(state, (work) => apply(work, action.event, true));
      if (state.reloading === null) return next;
      // While a snapshot is on its way a gap is expected: the snapshot fills it.
      return { ...next, stale: state.stale, pending: [...state.pending, action.event] };
    }
    case "sent":
      return withWork(state, (work) => {
        apply(work, { type: "message", message: action.message }, false);
        ensureQueued(work, action.answerId, action.position);
      });
    case "regenerating":
      return withWork(state, (work) => {
        truncateAfter(work, action.afterMessageId);
        ensureQueued(work, action.answerId, action.position);
      });
  }
}

/** The answer a mutation announced, waiting at `position` (0: answering now). */
function ensureQueued(work: Working, answerId: string, position: number): void {
  const answer = ensureAnswer(work, answerId);
  if (answer.status === "queued") replace(work, { ...answer, place: position > 0 ? position : null });
}

/** The answer under way (queued or streaming), if any: the one Stop stops. */
export function activeAnswer(state: ConversationState): ChatMessage | null {
  return state.messages.find((message) => message.role === "assistant" && isUnderWay(message.status)) ?? null;
}

/** The last message, when it is a finished answer: the one Regenerate replaces. */
export function lastAnswer(state: ConversationState): ChatMessage | null {
  const last = state.messages.at(-1);
  if (last?.role !== "assistant" || !isFinal(last.status)) return null;
  return state.messages.some((message) => message.role === "user") ? last : null;
}

export type Segment = { text: string; edit: number | null };

/**
 * The learner's text cut into plain pieces and corrected pieces (by the server's UTF-16 offsets:
 * `text.slice(start, end)` is the original). Edits out of range or overlapping an earlier one are
 * left out; an insertion (start === end) becomes an empty marked piece.
 */
export function correctionSegments(
  text: string,
  edits: readonly { start: number; end: number }[],
): { segments: Segment[]; placed: number[] } {
  const order = edits
    .map((edit, index) => ({ ...edit, index }))
    .filter((edit) => edit.start >= 0 && edit.end >= edit.start && edit.end <= text.length)
    .sort((a, b) => a.start - b.start || a.end - b.end);
  const segments: Segment[] = [];
  const placed: number[] = [];
  let at = 0;
  for (const edit of order) {
    if (edit.start < at) continue;
    if (edit.start > at) segments.push({ text: text.slice(at, edit.start), edit: null });
    segments.push({ text: text.slice(edit.start, edit.end), edit: edit.index });
    placed.push(edit.index);
    at = edit.end;
  }
  if (at < text.length) segments.push({ text: text.slice(at), edit: null });
  return { segments, placed };
}
