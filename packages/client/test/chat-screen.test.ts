/** What `plauder chat` writes where, without a server: the screen's placement rules and the chat's arguments. */
import { describe, expect, it } from "vitest";
import { parseInvocation } from "../src/cli/arguments";
import {
  ChatScreen,
  displayWidth,
  formatCorrection,
  type PromptLine,
  printableText,
  rowsAboveCursor,
} from "../src/cli/chat-screen";
import { UsageError } from "../src/cli/exit-codes";

const correction = {
  text: "Ich habe ein Hund",
  corrected: "Ich habe einen Hund",
  edits: [
    {
      start: 9,
      end: 12,
      original: "ein",
      suggestion: "einen",
      category: "case",
      explanation: "Akkusativ: einen Hund",
      level: "A1",
    },
  ],
} as Parameters<typeof formatCorrection>[0];

function screen(options: { terminal?: boolean; colour?: boolean; columns?: number; rows?: number } = {}) {
  const out = { stdout: "", stderr: "", writes: [] as string[] };
  const chatScreen = new ChatScreen({
    stdout: (text) => {
      out.stdout += text;
      out.writes.push(text);
    },
    stderr: (text) => {
      out.stderr += text;
    },
    colour: options.colour ?? false,
    terminal: options.terminal ?? false,
    size: () => ({ columns: options.columns ?? 80, rows: options.rows ?? 24 }),
  });
  return { screen: chatScreen, out };
}

const lines = (of?: string) => formatCorrection(correction, false, of);

describe("the chat screen without a terminal", () => {
  it("writes the correction right under the learner's line when nothing followed it", () => {
    const { screen: s, out } = screen();
    s.learner(null, "Ich habe ein Hund", false);
    s.identify("m1");
    s.correction("m1", "Ich habe ein Hund", lines);
    s.answer("a1", "Hallo");
    s.answer("a1", "Hallo!");
    s.endAnswer("a1");
    expect(out.stdout).toBe(
      "You: Ich habe ein Hund\n  ✎ Ich habe einen Hund\n    ein → einen (case, A1): Akkusativ: einen Hund\nTutor: Hallo!\n",
    );
    expect(out.writes).toContain("!");
  });

  it("holds a correction that comes mid-answer until the answer's line ends, naming the line", () => {
    const { screen: s, out } = screen();
    s.learner("m1", "Ich habe ein Hund", false);
    s.answer("a1", "Hal");
    s.correction("m1", "Ich habe ein Hund", lines);
    s.answer("a1", "Hallo");
    s.endAnswer("a1", "[stopped]");
    expect(out.stdout).toBe(
      "You: Ich habe ein Hund\nTutor: Hallo [stopped]\n  ✎ (your line “Ich habe ein Hund”) Ich habe einen Hund\n    ein → einen (case, A1): Akkusativ: einen Hund\n",
    );
  });

  it("never writes an answer's text twice, and escapes control characters", () => {
    const { screen: s, out } = screen();
    s.markWritten("a1", 5);
    s.answer("a1", "Hallo");
    s.answer("a2", "rot\u001b[31m\tgrün\nzwei");
    s.endAnswer("a2");
    expect(out.stdout).toBe("Tutor: rot\\u001b[31m    grün\nzwei\n");
    s.answer("a3", " \n");
    expect(out.stdout.endsWith("zwei\n")).toBe(true);
    s.answer("a3", " \nHallo");
    s.endAnswer("a3");
    expect(out.stdout.endsWith("zwei\nTutor: Hallo\n")).toBe(true);
  });
});

describe("the chat screen on a terminal", () => {
  it("redraws what followed the learner's line to put a late correction under it", () => {
    const { screen: s, out } = screen({ terminal: true, columns: 10 });
    s.learner("m1", "Ich habe ein Hund", true);
    s.answer("a1", "Guten Tag, wie");
    const before = out.stdout.length;
    s.correction("m1", "Ich habe ein Hund", lines);
    // "Tutor: Guten Tag, wie" is 21 columns: three rows on a 10-column terminal, the cursor on the third.
    expect(out.stdout.slice(before)).toBe(
      "\r\u001b[2A\u001b[J  ✎ Ich habe einen Hund\n    ein → einen (case, A1): Akkusativ: einen Hund\nTutor: Guten Tag, wie",
    );
    s.answer("a1", "Guten Tag, wie geht's?");
    expect(out.stdout.endsWith(" geht's?")).toBe(true);
  });

  it("falls back to after the answer when the lines since the learner's have scrolled away", () => {
    const { screen: s, out } = screen({ terminal: true, columns: 10, rows: 4 });
    s.learner("m1", "Ich habe ein Hund", true);
    s.answer("a1", "Guten Tag, wie geht es dir heute?");
    s.correction("m1", "Ich habe ein Hund", lines);
    expect(out.stdout).not.toContain("\u001b[");
    s.endAnswer("a1");
    expect(out.stdout).toContain("?\n  ✎ (your line");
  });

  it("holds status lines while an answer's line is being written", () => {
    const { screen: s, out } = screen({ terminal: true });
    s.answer("a1", "Hallo");
    s.status("Connection lost; reconnecting…");
    expect(out.stderr).toBe("");
    s.endAnswer("a1");
    expect(out.stderr).toBe("Connection lost; reconnecting…\n");
  });

  it("writes above the prompt and shows it again", () => {
    const { screen: s, out } = screen({ terminal: true });
    const calls: string[] = [];
    const prompt: PromptLine = {
      showing: true,
      show: () => calls.push("show"),
      hide: () => calls.push("hide"),
      redraw: () => calls.push("redraw"),
    };
    s.attachPrompt(prompt);
    s.status("Reconnected; catching up");
    s.lines(["x"]);
    expect(calls).toEqual(["hide", "redraw", "hide", "redraw"]);
    expect(out.stdout).toBe("x\n");
  });

  it("colours only when asked", () => {
    expect(formatCorrection(correction, true).join("\n")).toContain("\u001b[31mein\u001b[0m");
    expect(formatCorrection(correction, false).join("\n")).not.toContain("\u001b");
  });
});

describe("terminal arithmetic", () => {
  it("counts columns and rows", () => {
    expect(displayWidth("Grüße")).toBe(5);
    expect(displayWidth("日本")).toBe(4);
    expect(displayWidth("\u001b[1mYou: \u001b[0m")).toBe(5);
    expect(rowsAboveCursor("", 10)).toBe(0);
    expect(rowsAboveCursor("0123456789", 10)).toBe(0);
    expect(rowsAboveCursor("0123456789x", 10)).toBe(1);
    expect(rowsAboveCursor("a\nb\n", 10)).toBe(2);
    expect(rowsAboveCursor("0123456789012\nb", 10)).toBe(2);
    expect(printableText("a\tb\u0007")).toBe("a    b\\u0007");
  });
});

describe("plauder chat's arguments", () => {
  it("starts, continues or lists", () => {
    expect(parseInvocation(["chat"])).toEqual({ command: "chat", server: {}, listScenarios: false });
    expect(parseInvocation(["chat", "--level", "b1", "--scenario", "bakery"])).toMatchObject({
      level: "B1",
      scenarioId: "bakery",
    });
    expect(parseInvocation(["chat", "--conversation", "c-1"])).toMatchObject({ conversationId: "c-1" });
    expect(parseInvocation(["chat", "--list-scenarios"])).toMatchObject({ listScenarios: true });
  });

  it("refuses what does not go together", () => {
    expect(() => parseInvocation(["chat", "--conversation", "c-1", "--scenario", "bakery"])).toThrow(
      new UsageError("--scenario is for a new conversation; a continued one keeps its own"),
    );
    expect(() => parseInvocation(["chat", "--list-scenarios", "--level", "A1"])).toThrow(
      "--list-scenarios does not go with --level",
    );
    expect(() => parseInvocation(["chat", "hallo"])).toThrow('Unexpected argument "hallo" for `plauder chat`');
    expect(() => parseInvocation(["chat", "--level", "C2"])).toThrow("--level must be one of A1, A2, B1, B2, C1");
    expect(() => parseInvocation(["ping", "--level", "A1"])).toThrow("`plauder ping` does not take --level");
  });
});
