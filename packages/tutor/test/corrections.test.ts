import { afterEach, describe, expect, it } from "vitest";
import {
  type Correction,
  correctionCategories,
  correctionRequest,
  correctionSchema,
  correctText,
  createOllamaProvider,
  createOpenAIProvider,
  type ModelCorrection,
  ModelOutputError,
  maxCorrectionTextLength,
  modelCorrectionSchema,
  parseCorrection,
} from "../src";
import { tokenize } from "../src/corrections/align";
import { type FakeProvider, fixedReplyModel, startFakeOllama, startFakeOpenAI } from "../src/testing";

type ModelEdit = ModelCorrection["edits"][number];
const edit = (
  original: string,
  suggestion: string,
  category: ModelEdit["category"] = "other",
  explanation = `${original} → ${suggestion}`,
  level: ModelEdit["level"] = "A2",
): ModelEdit => ({ original, suggestion, category, explanation, level });
const answer = (corrected: string, edits: ModelEdit[]) => JSON.stringify({ corrected, edits });

/** What must hold for every correction the server stores, whatever the model said. */
function expectConsistent(correction: Correction): void {
  expect(correctionSchema.safeParse(correction).success).toBe(true);
  const { text, corrected, edits } = correction;
  let previousEnd = -1;
  let rebuilt = "";
  let at = 0;
  for (const item of edits) {
    expect(text.slice(item.start, item.end)).toBe(item.original);
    expect(item.start).toBeLessThan(item.end);
    expect(item.start).toBeGreaterThanOrEqual(previousEnd); // sorted, never overlapping
    previousEnd = item.end;
    rebuilt += text.slice(at, item.start) + item.suggestion;
    at = item.end;
  }
  rebuilt += text.slice(at);
  // Applying every edit turns the learner's text into the corrected one (word for word).
  const words = (value: string) => tokenize(value).map((token) => token.norm);
  expect(words(rebuilt)).toEqual(words(corrected));
}

function correct(text: string, corrected: string, edits: ModelEdit[]): Correction {
  const correction = parseCorrection(text, answer(corrected, edits), "B1");
  expectConsistent(correction);
  return correction;
}

/** Where each edit stands and what it changes (without its explanation and level). */
const placesOf = (correction: Correction) =>
  correction.edits.map(({ start, end, original, suggestion, category }) => ({
    start,
    end,
    original,
    suggestion,
    category,
  }));

describe("parseCorrection: offsets come from diffing the text against the corrected text", () => {
  it("places edits after umlauts and ß, in UTF-16 offsets", () => {
    const text = "Grüße aus Köln! Ich möchte die Strasse überqueren, aber mein Fuss tut weh.";
    const result = correct(text, "Grüße aus Köln! Ich möchte die Straße überqueren, aber mein Fuß tut weh.", [
      edit("Strasse", "Straße", "spelling", "ß after a long vowel"),
      edit("Fuss", "Fuß", "spelling"),
    ]);
    expect(result.edits).toEqual([
      {
        start: 31,
        end: 38,
        original: "Strasse",
        suggestion: "Straße",
        category: "spelling",
        explanation: "ß after a long vowel",
        level: "A2",
      },
      expect.objectContaining({ start: 61, end: 65, original: "Fuss", suggestion: "Fuß" }),
    ]);
    expect(text.indexOf("Strasse")).toBe(31);
    expect(text.indexOf("Fuss")).toBe(61);
  });

  it("counts an emoji as two UTF-16 units and sees umlauts written with combining marks as the same letters", () => {
    const text = "😀 Ich habe ein Hund. Scho\u0308n!";
    const result = correct(text, "😀 Ich habe einen Hund. Schön!", [edit("ein Hund", "einen Hund", "case")]);
    expect(placesOf(result)).toEqual([{ start: 12, end: 15, original: "ein", suggestion: "einen", category: "case" }]);
    expect(text.slice(12, 15)).toBe("ein");
  });

  it("picks the changed one of repeated words", () => {
    const text = "Ich sehe den Hund und den Katze.";
    const result = correct(text, "Ich sehe den Hund und die Katze.", [edit("den", "die", "gender")]);
    expect(result.edits).toEqual([expect.objectContaining({ start: 22, end: 25, original: "den", suggestion: "die" })]);
  });

  it("binds two edits of the same word to their own places by what they suggest, in either order", () => {
    const text = "Ich habe ein Hund und ein Katze";
    const corrected = "Ich habe einen Hund und eine Katze";
    const masculine = edit("ein", "einen", "case", "Hund: der, accusative einen");
    const feminine = edit("ein", "eine", "gender", "Katze: die");
    for (const edits of [
      [masculine, feminine],
      [feminine, masculine],
    ]) {
      const result = correct(text, corrected, edits);
      expect(result.edits).toEqual([
        expect.objectContaining({ start: 9, end: 12, suggestion: "einen", category: "case" }),
        expect.objectContaining({ start: 22, end: 25, suggestion: "eine", category: "gender" }),
      ]);
    }
  });

  it("anchors a missing comma to the word before it, whether the model names the words or only the comma", () => {
    const text = "Ich glaube dass er morgen kommt.";
    const corrected = "Ich glaube, dass er morgen kommt.";
    for (const named of [edit("glaube dass", "glaube, dass", "punctuation"), edit("", ",", "punctuation")]) {
      const result = correct(text, corrected, [named]);
      expect(placesOf(result)).toEqual([
        { start: 4, end: 10, original: "glaube", suggestion: "glaube,", category: "punctuation" },
      ]);
    }
  });

  it("keeps a word-order edit over both moved words as one edit", () => {
    const text = "Wenn ich Zeit habe, ich gehe in der Park.";
    const result = correct(text, "Wenn ich Zeit habe, gehe ich in den Park.", [
      edit("der Park", "den Park", "case"),
      edit("ich gehe", "gehe ich", "verb-position"),
    ]);
    expect(placesOf(result)).toEqual([
      { start: 20, end: 28, original: "ich gehe", suggestion: "gehe ich", category: "verb-position" },
      { start: 32, end: 35, original: "der", suggestion: "den", category: "case" },
    ]);
  });

  it("finds the words the model names in another case when they do not stand as written", () => {
    const text = "Gestern Ich habe Pizza gegessen.";
    const result = correct(text, "Gestern habe ich Pizza gegessen.", [edit("ich habe", "habe ich", "verb-position")]);
    expect(placesOf(result)).toEqual([
      { start: 8, end: 16, original: "Ich habe", suggestion: "habe ich", category: "verb-position" },
    ]);
  });

  it("deletes: a removed comma is an edit with an empty suggestion", () => {
    const text = "Ich trinke Kaffee, und sie trinkt Tee.";
    const result = correct(text, "Ich trinke Kaffee und sie trinkt Tee.", [edit(",", "", "punctuation")]);
    expect(result.edits).toEqual([expect.objectContaining({ start: 17, end: 18, original: ",", suggestion: "" })]);
  });

  it("sorts edits by place, whatever order the model gives", () => {
    const text = "gestern ich bin nach berlin gefahrt";
    const result = correct(text, "Gestern bin ich nach Berlin gefahren", [
      edit("gefahrt", "gefahren", "conjugation"),
      edit("berlin", "Berlin", "spelling"),
      edit("ich bin", "bin ich", "verb-position"),
      edit("gestern", "Gestern", "spelling"),
    ]);
    expect(result.edits.map((item) => item.category)).toEqual(["spelling", "verb-position", "spelling", "conjugation"]);
    expect(result.edits.map((item) => item.original)).toEqual(["gestern", "ich bin", "berlin", "gefahrt"]);
  });

  it("drops an edit that names an unchanged place, and one that names words not in the text", () => {
    const text = "Ich habe gestern ins Kino gegangen.";
    const result = correct(text, "Ich bin gestern ins Kino gegangen.", [
      edit("Kino", "Theater", "word-choice"),
      edit("Hause", "Haus", "spelling"),
      edit("habe", "bin", "tense"),
    ]);
    expect(placesOf(result)).toEqual([{ start: 4, end: 8, original: "habe", suggestion: "bin", category: "tense" }]);
  });

  it("keeps one of two edits that claim the same place (the narrower), never both", () => {
    const text = "Wir gehen in der Park.";
    const result = correct(text, "Wir gehen in den Park.", [
      edit("in der Park", "in den Park", "preposition", "wide"),
      edit("der", "den", "case", "narrow"),
    ]);
    expect(result.edits).toEqual([
      expect.objectContaining({ original: "der", category: "case", explanation: "narrow" }),
    ]);
  });

  it("turns changed places no edit explains into category other with an empty explanation", () => {
    const text = "Ich wohne in berlin seit zwei Jahr.";
    const result = correct(text, "Ich wohne seit zwei Jahren in Berlin.", [edit("Jahr", "Jahren", "ending")]);
    const explained = result.edits.filter((item) => item.category !== "other");
    expect(explained).toEqual([
      expect.objectContaining({ original: "Jahr", suggestion: "Jahren", category: "ending" }),
    ]);
    const unexplained = result.edits.filter((item) => item.category === "other");
    expect(unexplained).toEqual([
      { start: 10, end: 19, original: "in berlin", suggestion: "", category: "other", explanation: "", level: "B1" },
      // Inserted after "Jahr" (which has an edit of its own), so anchored to the full stop, space included.
      { start: 34, end: 35, original: ".", suggestion: " in Berlin.", category: "other", explanation: "", level: "B1" },
    ]);
  });

  it("gives no edits for an identical sentence (spacing aside), even when the model invents some", () => {
    const text = "Ich  wohne seit drei Jahren in Hamburg. ";
    const result = correct(text, "Ich wohne seit drei Jahren in Hamburg.", [edit("wohne", "lebe", "word-choice")]);
    expect(result).toEqual({ text, corrected: text, edits: [] });
  });

  it("ignores a model edit whose words stand in the text but were not changed, when nothing changed at all", () => {
    const result = correct("Das ist gut.", "Das ist gut.", []);
    expect(result.edits).toEqual([]);
  });

  it("holds its promises for any model answer (seeded random edits)", () => {
    let seed = 42;
    const random = () => {
      // mulberry32: the same sequence on every run
      seed = (seed + 0x6d2b79f5) | 0;
      let value = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      value = (value + Math.imul(value ^ (value >>> 7), 61 | value)) ^ value;
      return ((value ^ (value >>> 14)) >>> 0) / 4_294_967_296;
    };
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const words = [
      "ich",
      "Ich",
      "den",
      "der",
      "die",
      "Straße",
      "Fuß",
      "schön",
      "müde",
      ",",
      ".",
      "?",
      "und",
      "habe",
      "bin",
      "😀",
    ];
    for (let round = 0; round < 500; round++) {
      const source = Array.from({ length: 1 + Math.floor(random() * 10) }, () => pick(words));
      const target = source.flatMap((word) => {
        const roll = random();
        return roll < 0.15 ? [] : roll < 0.3 ? [pick(words)] : roll < 0.4 ? [word, pick(words)] : [word];
      });
      const join = (words: string[]) =>
        words.reduce((joined, word, index) => (index === 0 ? word : joined + pick(["", " ", " ", "  "]) + word), "");
      const text = join(source);
      const corrected = join(target);
      const edits = Array.from({ length: Math.floor(random() * 4) }, () =>
        edit(
          source
            .slice(Math.floor(random() * source.length))
            .slice(0, 1 + Math.floor(random() * 3))
            .join(" "),
          pick(words),
          pick(correctionCategories),
        ),
      );
      correct(text, corrected, edits);
    }
  });
});

describe("parseCorrection: answers that are not a correction", () => {
  const text = "Ich habe ein Hund.";
  const bad: Array<[string, string]> = [
    ["empty", ""],
    ["prose", "Hier ist die Korrektur: Ich habe einen Hund."],
    ["cut off", '{"corrected": "Ich habe einen Hund.", "edits": [{"original": "ein"'],
    ["no edits", '{"corrected": "Ich habe einen Hund."}'],
    ["edits not a list", '{"corrected": "Ich habe einen Hund.", "edits": "ein → einen"}'],
    ["unknown category", answer("Ich habe einen Hund.", [{ ...edit("ein", "einen"), category: "grammar" as "case" }])],
    ["level C2", answer("Ich habe einen Hund.", [{ ...edit("ein", "einen"), level: "C2" as "C1" }])],
    ["a list", "[]"],
    [
      "21 edits",
      answer(
        "Ich habe einen Hund.",
        Array.from({ length: 21 }, () => edit("ein", "einen")),
      ),
    ],
  ];
  for (const [name, raw] of bad) {
    it(`throws ModelOutputError: ${name}`, () => {
      let thrown: unknown;
      try {
        parseCorrection(text, raw);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ModelOutputError);
      const error = thrown as ModelOutputError;
      expect(error.what).toBe("correction");
      expect(error.message).toMatch(/^The model's correction could not be used: .+\.$/);
      expect(error.raw).toBe(raw.length > 2_000 ? `${raw.slice(0, 2_000)}…` : raw);
    });
  }

  it("names what is wrong", () => {
    expect(() => parseCorrection(text, "{nope")).toThrow(/not valid JSON/);
    expect(() => parseCorrection(text, '{"corrected": 1, "edits": []}')).toThrow(/corrected/);
  });

  it("takes the JSON out of a Markdown code fence", () => {
    const raw = `\`\`\`json\n${answer("Ich habe einen Hund.", [edit("ein", "einen", "case")])}\n\`\`\``;
    expect(parseCorrection(text, raw).edits).toEqual([
      expect.objectContaining({ start: 9, end: 12, category: "case" }),
    ]);
  });
});

describe("correctionRequest", () => {
  it("asks for the model schema with worked examples and the learner's text last", () => {
    const { messages, format } = correctionRequest("Ich habe ein Hund.", "A2");
    expect(format).toMatchObject({ type: "object", required: ["corrected", "edits"] });
    expect(messages[0]?.role).toBe("system");
    expect(messages[0]?.content).toContain("A2");
    expect(messages.at(-1)).toEqual({ role: "user", content: "Ich habe ein Hund." });
    // Every example answer is itself a valid model answer whose edits all apply.
    const examples = messages.slice(1, -1);
    expect(examples.length).toBeGreaterThanOrEqual(6);
    for (let index = 0; index < examples.length; index += 2) {
      const [user, assistant] = [examples[index], examples[index + 1]];
      expect(user?.role).toBe("user");
      expect(assistant?.role).toBe("assistant");
      const parsed = modelCorrectionSchema.parse(JSON.parse(assistant?.content ?? ""));
      const correction = parseCorrection(user?.content ?? "", assistant?.content ?? "");
      expect(correction.edits.map((item) => item.category)).toEqual(
        [...parsed.edits]
          .sort((a, b) => (user?.content ?? "").indexOf(a.original) - (user?.content ?? "").indexOf(b.original))
          .map((item) => item.category),
      );
    }
  });

  it("refuses a text longer than a message may be, rather than cut it", () => {
    expect(() => correctionRequest("a".repeat(maxCorrectionTextLength), "B1")).not.toThrow();
    expect(() => correctionRequest("a".repeat(maxCorrectionTextLength + 1), "B1")).toThrow(RangeError);
  });

  it("explains in English for beginners and in German from B1 on", () => {
    const explanations = (level: "A1" | "B2") =>
      correctionRequest("x", level)
        .messages.filter((message) => message.role === "assistant")
        .flatMap((message) =>
          modelCorrectionSchema.parse(JSON.parse(message.content)).edits.map((item) => item.explanation),
        )
        .join(" ");
    expect(explanations("A1")).toContain("accusative");
    expect(explanations("B2")).toContain("Akkusativ");
  });
});

describe("correctText against the fake providers", () => {
  let fake: FakeProvider | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });
  const text = "Ich habe gestern ins Kino gegangen.";
  const reply = answer("Ich bin gestern ins Kino gegangen.", [edit("habe", "bin", "tense", "gehen → sein")]);
  const expected: Correction = {
    text,
    corrected: "Ich bin gestern ins Kino gegangen.",
    edits: [
      {
        start: 4,
        end: 8,
        original: "habe",
        suggestion: "bin",
        category: "tense",
        explanation: "gehen → sein",
        level: "A2",
      },
    ],
  };

  it("Ollama: joins the streamed answer, asks with the schema and temperature 0", async () => {
    fake = await startFakeOllama();
    const provider = createOllamaProvider({ baseUrl: fake.url });
    const model = fixedReplyModel(reply);
    expect(await correctText(provider, model, text, "A2", AbortSignal.timeout(5_000))).toEqual(expected);
    const [request] = fake.chats();
    expect(request?.tokensSent).toBeGreaterThan(5); // streamed in pieces, not at once
    const body = request?.body as { format: unknown; options: { temperature: number }; messages: unknown[] };
    expect(body.format).toEqual(correctionRequest(text, "A2").format);
    expect(body.options.temperature).toBe(0);
    expect(body.messages.at(-1)).toEqual({ role: "user", content: text });
  });

  it("OpenAI-compatible: the same correction through response_format", async () => {
    fake = await startFakeOpenAI();
    const provider = createOpenAIProvider({ baseUrl: fake.url });
    expect(await correctText(provider, fixedReplyModel(reply), text, "A2", AbortSignal.timeout(5_000))).toEqual(
      expected,
    );
    const body = fake.chats()[0]?.body as { response_format: { type: string }; temperature: number };
    expect(body.response_format.type).toBe("json_schema");
    expect(body.temperature).toBe(0);
  });

  it("throws ModelOutputError when the model answers with something else", async () => {
    fake = await startFakeOllama();
    const provider = createOllamaProvider({ baseUrl: fake.url });
    await expect(
      correctText(
        provider,
        fixedReplyModel("Ich bin gestern ins Kino gegangen."),
        text,
        "A2",
        AbortSignal.timeout(5_000),
      ),
    ).rejects.toBeInstanceOf(ModelOutputError);
  });

  it("passes the signal's reason on when stopped", async () => {
    fake = await startFakeOllama();
    const provider = createOllamaProvider({ baseUrl: fake.url });
    const controller = new AbortController();
    const pending = correctText(provider, "endless:10", text, "A2", controller.signal);
    await fake.nextChat();
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });
  });
});
