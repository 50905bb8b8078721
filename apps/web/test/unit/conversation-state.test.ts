import type { MessageView, TutorEvent } from "@plauder/api/tutor-events";
import { describe, expect, it } from "vitest";
import {
  activeAnswer,
  type ConversationAction,
  type ConversationSnapshot,
  type ConversationState,
  conversationReducer,
  correctionSegments,
  initialConversationState,
  lastAnswer,
  type Segment,
  spokenText,
} from "../../src/chat/conversation-state";

const conversationId = "00000000-0000-4000-8000-000000000000";
const userId = "11111111-1111-4111-8111-111111111111";
const answerId = "22222222-2222-4222-8222-222222222222";
const otherAnswerId = "33333333-3333-4333-8333-333333333333";

function view(overrides: Partial<MessageView> & Pick<MessageView, "id" | "role">): MessageView {
  return {
    content: "",
    status: "complete",
    model: null,
    error: null,
    correction: null,
    createdAt: "2026-01-01T00:00:00.000Z",
    ...overrides,
  };
}

const learner = view({ id: userId, role: "user", content: "Ich habe ein Hund." });

function run(actions: ConversationAction[], from = initialConversationState(conversationId)): ConversationState {
  return actions.reduce(conversationReducer, from);
}

const event = (value: TutorEvent): ConversationAction => ({ type: "event", event: value });

/** A loaded, empty conversation. */
function loaded(messages: MessageView[] = [], active: ConversationSnapshot["active"] = null) {
  return run([
    { type: "reloadStarted", token: 1 },
    { type: "snapshot", token: 1, snapshot: { messages, active } },
  ]);
}

const answerText = (state: ConversationState) => state.messages.find((message) => message.id === answerId)?.content;

describe("conversationReducer", () => {
  it("streams an answer from its events and announces it once it ends", () => {
    const state = run(
      [
        event({ type: "message", message: learner }),
        event({ type: "start", messageId: answerId, model: "m" }),
        event({ type: "delta", messageId: answerId, at: 0, text: "Hallo" }),
        event({ type: "delta", messageId: answerId, at: 5, text: " du!" }),
      ],
      loaded(),
    );
    expect(state.messages.map((message) => message.id)).toEqual([userId, answerId]);
    expect(answerText(state)).toBe("Hallo du!");
    expect(activeAnswer(state)?.status).toBe("streaming");
    expect(state.announcement).toBeNull();
    expect(state.messages[0]?.correctionPending).toBe(true);

    const ended = conversationReducer(
      state,
      event({ type: "end", messageId: answerId, status: "complete", length: 9 }),
    );
    expect(activeAnswer(ended)).toBeNull();
    expect(ended.stale).toBe(false);
    expect(ended.announcement?.text).toBe("The tutor answered: Hallo du!");
    expect(lastAnswer(ended)?.id).toBe(answerId);
  });

  it("applies a repeated delta once and asks for a reload on a gap", () => {
    const base = run([event({ type: "delta", messageId: answerId, at: 0, text: "Hal" })], loaded([learner]));
    const repeated = run(
      [
        event({ type: "delta", messageId: answerId, at: 0, text: "Hal" }),
        event({ type: "delta", messageId: answerId, at: 3, text: "lo" }),
      ],
      base,
    );
    expect(answerText(repeated)).toBe("Hallo");
    const gap = conversationReducer(repeated, event({ type: "delta", messageId: answerId, at: 9, text: "x" }));
    expect(answerText(gap)).toBe("Hallo");
    expect(gap.stale).toBe(true);
  });

  it("asks for a reload when an answer ends at another length than it has", () => {
    const state = run(
      [
        event({ type: "delta", messageId: answerId, at: 0, text: "Hal" }),
        event({ type: "end", messageId: answerId, status: "complete", length: 5 }),
      ],
      loaded([learner]),
    );
    expect(state.stale).toBe(true);
    expect(state.messages.at(-1)?.status).toBe("complete");
  });

  it("replays the events that arrived during a reload onto the snapshot, without doubling", () => {
    const streaming = run(
      [
        event({ type: "start", messageId: answerId, model: "m" }),
        event({ type: "delta", messageId: answerId, at: 0, text: "Guten" }),
      ],
      loaded([learner]),
    );
    const during = run(
      [
        { type: "reloadStarted", token: 2 },
        event({ type: "delta", messageId: answerId, at: 5, text: " Tag" }),
        event({ type: "delta", messageId: answerId, at: 9, text: ", Anna" }),
      ],
      streaming,
    );
    expect(answerText(during)).toBe("Guten Tag, Anna");
    // The snapshot was read after the first of those deltas, before the second.
    const snapshot = {
      messages: [learner, view({ id: answerId, role: "assistant", status: "streaming", content: "Guten Tag" })],
      active: { messageId: answerId, state: "streaming" as const, position: 0 },
    };
    const after = conversationReducer(during, { type: "snapshot", token: 2, snapshot });
    expect(answerText(after)).toBe("Guten Tag, Anna");
    expect(after.stale).toBe(false);
    expect(after.pending).toEqual([]);
    expect(after.reloading).toBeNull();
  });

  it("a gap while a snapshot is on its way waits for the snapshot instead of reloading again", () => {
    const state = run(
      [{ type: "reloadStarted", token: 1 }, event({ type: "delta", messageId: answerId, at: 40, text: "spät" })],
      initialConversationState(conversationId),
    );
    expect(state.stale).toBe(false);
    const after = conversationReducer(state, {
      type: "snapshot",
      token: 1,
      snapshot: {
        messages: [learner, view({ id: answerId, role: "assistant", status: "streaming", content: "x".repeat(40) })],
        active: { messageId: answerId, state: "streaming", position: 0 },
      },
    });
    expect(answerText(after)).toBe(`${"x".repeat(40)}spät`);
  });

  it("ignores a stale snapshot and never moves a status backwards", () => {
    const done = run(
      [
        event({ type: "start", messageId: answerId, model: "m" }),
        event({ type: "delta", messageId: answerId, at: 0, text: "Ja" }),
        event({ type: "end", messageId: answerId, status: "stopped", length: 2 }),
        event({ type: "start", messageId: answerId, model: "m" }),
        event({ type: "queued", messageId: answerId, position: 2 }),
        event({ type: "delta", messageId: answerId, at: 2, text: " nein" }),
      ],
      loaded([learner]),
    );
    expect(done.messages.at(-1)).toMatchObject({ status: "stopped", content: "Ja" });
    const ignored = conversationReducer(
      { ...done, reloading: 5 },
      { type: "snapshot", token: 4, snapshot: { messages: [], active: null } },
    );
    expect(ignored.messages).toHaveLength(2);
  });

  it("shows a queued answer's place in line, from the mutation, the snapshot and events", () => {
    const sent = conversationReducer(loaded(), { type: "sent", message: learner, answerId, position: 2 });
    expect(sent.messages.at(-1)).toMatchObject({ id: answerId, status: "queued", place: 2 });
    const moved = conversationReducer(sent, event({ type: "queued", messageId: answerId, position: 1 }));
    expect(moved.messages.at(-1)?.place).toBe(1);
    const started = conversationReducer(moved, event({ type: "start", messageId: answerId, model: "m" }));
    expect(started.messages.at(-1)).toMatchObject({ status: "streaming", place: null });
    const fromSnapshot = loaded([learner, view({ id: answerId, role: "assistant", status: "queued" })], null);
    expect(fromSnapshot.messages.at(-1)?.place).toBeNull();
    const withActive = run([
      { type: "reloadStarted", token: 1 },
      {
        type: "snapshot",
        token: 1,
        snapshot: {
          messages: [learner, view({ id: answerId, role: "assistant", status: "queued" })],
          active: { messageId: answerId, state: "queued", position: 3 },
        },
      },
    ]);
    expect(withActive.messages.at(-1)?.place).toBe(3);
  });

  it("a mutation's answer that arrives after the events does not undo them", () => {
    const state = run(
      [
        event({ type: "message", message: learner }),
        event({ type: "start", messageId: answerId, model: "m" }),
        event({ type: "delta", messageId: answerId, at: 0, text: "Hi" }),
        { type: "sent", message: learner, answerId, position: 0 },
      ],
      loaded(),
    );
    expect(state.messages).toHaveLength(2);
    expect(state.messages.at(-1)).toMatchObject({ status: "streaming", content: "Hi" });
  });

  it("truncates after a message (regenerate, edit) and reloads when that message is unknown", () => {
    const answered = loaded([learner, view({ id: answerId, role: "assistant", content: "Alt" })]);
    const regenerated = run(
      [
        { type: "regenerating", afterMessageId: userId, answerId: otherAnswerId, position: 0 },
        event({ type: "truncate", afterMessageId: userId }),
        event({ type: "start", messageId: otherAnswerId, model: "m" }),
      ],
      answered,
    );
    expect(regenerated.messages.map((message) => message.id)).toEqual([userId, otherAnswerId]);
    expect(conversationReducer(answered, event({ type: "truncate", afterMessageId: null })).messages).toEqual([]);
    expect(conversationReducer(answered, event({ type: "truncate", afterMessageId: otherAnswerId })).stale).toBe(true);
  });

  it("an edited message replaces the old text and waits for its new correction", () => {
    const correction = { text: learner.content, corrected: "Ich habe einen Hund.", edits: [] };
    const corrected = conversationReducer(
      loaded([learner]),
      event({ type: "correction", messageId: userId, correction }),
    );
    expect(corrected.messages[0]?.correction).toEqual(correction);
    // The same message said again (a replay) keeps its correction.
    const replayed = conversationReducer(corrected, event({ type: "message", message: learner }));
    expect(replayed.messages[0]?.correction).toEqual(correction);
    const edited = conversationReducer(
      corrected,
      event({ type: "message", message: { ...learner, content: "Ich habe einen Hund." } }),
    );
    expect(edited.messages[0]).toMatchObject({
      content: "Ich habe einen Hund.",
      correction: null,
      correctionPending: true,
    });
  });

  it("keeps why a correction failed across a snapshot", () => {
    const failed = conversationReducer(
      loaded([learner]),
      event({ type: "correction-failed", messageId: userId, reason: "The correction took too long and was skipped." }),
    );
    expect(failed.messages[0]).toMatchObject({
      correctionError: "The correction took too long and was skipped.",
      correctionPending: false,
    });
    const reloaded = run(
      [
        { type: "reloadStarted", token: 9 },
        { type: "snapshot", token: 9, snapshot: { messages: [learner], active: null } },
      ],
      failed,
    );
    expect(reloaded.messages[0]?.correctionError).toBe("The correction took too long and was skipped.");
  });

  it("a failed reload says why and leaves the messages", () => {
    const state = run(
      [
        { type: "reloadStarted", token: 3 },
        { type: "reloadFailed", token: 3, message: "No" },
      ],
      loaded([learner]),
    );
    expect(state).toMatchObject({ error: "No", reloading: null });
    expect(state.messages).toHaveLength(1);
  });
});

describe("spokenText", () => {
  it("drops markdown's marks and link addresses", () => {
    expect(spokenText("**Schön!** Sieh [hier](https://example.com) nach:\n\n# Titel\n`Code`")).toBe(
      "Schön! Sieh hier nach: Titel Code",
    );
  });
});

describe("correctionSegments", () => {
  const text = "Ich habe ein Hund und gehe morgen in die Schule.";
  /** The segments on one line, `|` between them, an edited one as `[its edit's index:its text]`. */
  const cut = (segments: Segment[]) =>
    segments.map(({ text: piece, edit }) => (edit === null ? piece : `[${edit}:${piece}]`)).join("|");

  it("cuts the text at the edits' offsets, in order", () => {
    const start = text.indexOf("ein Hund");
    const later = text.indexOf("in die");
    const { segments, placed } = correctionSegments(text, [
      { start: later, end: later + 6 },
      { start, end: start + 8 },
    ]);
    expect(cut(segments)).toBe("Ich habe |[1:ein Hund]| und gehe morgen |[0:in die]| Schule.");
    expect(placed).toEqual([1, 0]);
    expect(segments.map((segment) => segment.text).join("")).toBe(text);
  });

  it("leaves out edits out of range or overlapping, and keeps insertions", () => {
    const { segments, placed } = correctionSegments("abcdef", [
      { start: 1, end: 3 },
      { start: 2, end: 4 },
      { start: 4, end: 99 },
      { start: 5, end: 5 },
    ]);
    expect(placed).toEqual([0, 3]);
    expect(cut(segments)).toBe("a|[0:bc]|de|[3:]|f");
  });
});
