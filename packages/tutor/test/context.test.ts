import { describe, expect, it } from "vitest";
import { buildPrompt, estimateTokens, maxSummaryWords, messageOverheadTokens, summaryRequest, type Turn } from "../src";

describe("estimateTokens", () => {
  it("counts a token per three characters, rounded up", () => {
    expect(estimateTokens("")).toBe(0);
    expect(estimateTokens("abc")).toBe(1);
    expect(estimateTokens("abcd")).toBe(2);
    expect(estimateTokens("Grüß Gott!")).toBe(4);
    expect(messageOverheadTokens).toBe(4);
  });
});

/** A turn whose content costs exactly `tokens` (plus the message overhead). */
const turn = (role: Turn["role"], tag: string, tokens = 10): Turn => ({ role, content: tag.padEnd(tokens * 3, ".") });
const cost = (content: string) => estimateTokens(content) + messageOverheadTokens;
const system = "S".repeat(30); // 10 tokens + 4

describe("buildPrompt", () => {
  const conversation = [
    turn("assistant", "a1"),
    turn("user", "u1"),
    turn("assistant", "a2"),
    turn("user", "u2"),
    turn("assistant", "a3"),
    turn("user", "u3"),
  ];

  it("sends everything when it fits", () => {
    const { messages, overflow } = buildPrompt({
      system,
      turns: conversation,
      contextTokens: 1000,
      reserveTokens: 200,
    });
    expect(messages).toEqual([{ role: "system", content: system }, ...conversation]);
    expect(overflow).toEqual([]);
  });

  it("keeps the newest turns that fit and gives the rest back oldest first", () => {
    // 100 - 30 reserved - 14 for the system prompt = 56: four turns of 14.
    const { messages, overflow } = buildPrompt({ system, turns: conversation, contextTokens: 100, reserveTokens: 30 });
    expect(messages).toEqual([{ role: "system", content: system }, ...conversation.slice(2)]);
    expect(overflow).toEqual(conversation.slice(0, 2));
    const total = messages.reduce((sum, message) => sum + cost(message.content), 0);
    expect(total).toBeLessThanOrEqual(100 - 30);
  });

  it("never splits a turn: one that does not fit whole is left out whole", () => {
    // 69 leaves 55 for turns: three fit (42), the fourth would need 56.
    const { messages, overflow } = buildPrompt({ system, turns: conversation, contextTokens: 99, reserveTokens: 30 });
    expect(messages.slice(1)).toEqual(conversation.slice(3));
    expect(overflow).toEqual(conversation.slice(0, 3));
  });

  it("leaves no gaps: an older short turn does not jump over a long one", () => {
    const turns = [turn("user", "short", 2), turn("assistant", "long", 100), turn("user", "last", 2)];
    const { messages, overflow } = buildPrompt({ system, turns, contextTokens: 60, reserveTokens: 10 });
    expect(messages).toEqual([{ role: "system", content: system }, turns[2]]);
    expect(overflow).toEqual(turns.slice(0, 2));
  });

  it("puts the summary into a second system message, where it counts against the budget", () => {
    const summary = "Der Lernende heißt Ana und kommt aus Porto.";
    const { messages, overflow } = buildPrompt({
      system,
      summary,
      turns: conversation,
      contextTokens: 100,
      reserveTokens: 30,
    });
    expect(messages[0]).toEqual({ role: "system", content: system });
    expect(messages[1]?.role).toBe("system");
    expect(messages[1]?.content).toContain(summary);
    expect(messages.slice(2).every((message) => message.role !== "system")).toBe(true);
    // With its heading the summary message costs 33 tokens: 56 - 33 = 23 leaves room for one turn only.
    expect(cost(messages[1]?.content ?? "")).toBe(33);
    expect(messages.slice(2)).toEqual(conversation.slice(5));
    expect(overflow).toEqual(conversation.slice(0, 5));
  });

  it("sends no summary message for an empty summary", () => {
    const { messages } = buildPrompt({
      system,
      summary: "  \n",
      turns: conversation,
      contextTokens: 1000,
      reserveTokens: 0,
    });
    expect(messages.filter((message) => message.role === "system")).toHaveLength(1);
  });

  it("always keeps the last user turn: one too long on its own loses its start", () => {
    const long = `${"Anfang ".repeat(100)}und das Ende meiner Frage?`;
    const turns = [...conversation.slice(0, 5), { role: "user" as const, content: long }];
    const { messages, overflow } = buildPrompt({ system, turns, contextTokens: 100, reserveTokens: 30 });
    expect(overflow).toEqual(conversation.slice(0, 5));
    expect(messages).toHaveLength(2);
    const last = messages[1];
    expect(last?.role).toBe("user");
    expect(last?.content.startsWith("…")).toBe(true);
    expect(last?.content.endsWith("und das Ende meiner Frage?")).toBe(true);
    expect(long.endsWith(last?.content.slice(1) ?? "")).toBe(true);
    // It fills the room left, and no more: 56 tokens, 4 of them the overhead.
    expect(cost(last?.content ?? "")).toBe(56);
  });

  it("does not touch the turns it was given", () => {
    const turns = conversation.map((item) => ({ ...item }));
    const { messages } = buildPrompt({ system, turns, contextTokens: 60, reserveTokens: 10 });
    (messages.at(-1) as { content: string }).content = "changed";
    expect(turns).toEqual(conversation);
  });
});

describe("summaryRequest", () => {
  it("asks for a short German summary of what was said and what to remember about the learner", () => {
    const { messages } = summaryRequest("Ana kommt aus Porto.", [
      { role: "user", content: "Ich  arbeite\nals Krankenpflegerin." },
      { role: "assistant", content: "Oh, spannend! Wo arbeitest du?" },
    ]);
    expect(messages).toHaveLength(2);
    expect(messages[0]?.role).toBe("system");
    expect(messages[0]?.content).toContain(`höchstens ${maxSummaryWords} Wörter`);
    expect(messages[0]?.content).toContain("auf Deutsch");
    expect(messages[0]?.content).toContain("Fakten über den Lernenden");
    expect(messages[1]?.role).toBe("user");
    expect(messages[1]?.content).toContain("Bisherige Zusammenfassung:\nAna kommt aus Porto.");
    expect(messages[1]?.content).toContain(
      "Lernender: Ich arbeite als Krankenpflegerin.\nTutor: Oh, spannend! Wo arbeitest du?",
    );
  });

  it("starts from nothing when there is no summary yet", () => {
    const { messages } = summaryRequest(undefined, [{ role: "user", content: "Hallo!" }]);
    expect(messages[1]?.content).toContain("(noch keine)");
  });
});
