import { describe, expect, it } from "vitest";
import {
  cefrLevels,
  findScenario,
  ModelOutputError,
  parseGeneratedScenario,
  scenarioGenerationRequest,
  scenarioLibrary,
  scenarioLimits,
  scenarioSchema,
} from "../src";
import library from "../src/scenarios/library.json" with { type: "json" };

describe("the scenario library", () => {
  it("is the JSON file, every entry valid, ids unique", () => {
    expect(scenarioLibrary).toHaveLength(library.length);
    expect(scenarioLibrary.length).toBeGreaterThanOrEqual(10);
    for (const scenario of library) expect(scenarioSchema.parse(scenario)).toEqual(scenario);
    expect(new Set(scenarioLibrary.map((scenario) => scenario.id)).size).toBe(scenarioLibrary.length);
  });

  it("has the situations the app offers", () => {
    for (const id of [
      "bakery",
      "cafe",
      "asking-the-way",
      "train-station",
      "clothes-shopping",
      "doctor",
      "neighbours",
      "flat-viewing",
      "landlord-call",
      "job-interview",
      "office-hour",
    ]) {
      expect(findScenario(id)?.id).toBe(id);
    }
    expect(findScenario("gen-000000000000")).toBeUndefined();
  });

  it("covers every level with at least two scenarios", () => {
    for (const level of cefrLevels) {
      expect(scenarioLibrary.filter((scenario) => scenario.levels.includes(level)).length).toBeGreaterThanOrEqual(2);
    }
  });

  it("opens short and simple at A1 and longer higher up", () => {
    const words = (text: string) => text.split(/\s+/).filter(Boolean).length;
    for (const scenario of scenarioLibrary) {
      const lowest = cefrLevels.find((level) => scenario.levels.includes(level));
      if (lowest === "A1") expect(words(scenario.opening)).toBeLessThanOrEqual(8);
      if (lowest === "B2" || lowest === "C1") expect(words(scenario.opening)).toBeGreaterThan(12);
      expect(scenario.opening).toMatch(/[?!.]$/);
    }
  });

  it("cannot be changed by a caller", () => {
    expect(Object.isFrozen(scenarioLibrary)).toBe(true);
    expect(Object.isFrozen(scenarioLibrary[0])).toBe(true);
  });
});

const generated = {
  title: "Im Fahrradladen",
  titleEn: "At the bike shop",
  setting: "Dein Fahrrad hat einen Platten. Du bringst es in einen kleinen Laden in Münster.",
  tutorRole: "Mechaniker im Fahrradladen",
  learnerRole: "Kundin oder Kunde",
  goals: ["Das Problem beschreiben", "Nach dem Preis fragen", "Einen Abholtermin ausmachen"],
  opening: "Moin! Was ist denn mit dem Rad los?",
};

describe("generated scenarios", () => {
  it("asks for a scenario without id and levels, at the level, with the topic", () => {
    const { messages, format } = scenarioGenerationRequest("Fahrrad reparieren lassen", "A2");
    expect(format).toMatchObject({ type: "object" });
    const properties = Object.keys((format as { properties: Record<string, unknown> }).properties);
    expect(properties.sort()).toEqual(["goals", "learnerRole", "opening", "setting", "title", "titleEn", "tutorRole"]);
    expect(messages[0]?.content).toContain("A2");
    expect(messages.at(-1)).toEqual({ role: "user", content: "Thema: Fahrrad reparieren lassen" });
  });

  it("cuts an over-long topic before it reaches the model", () => {
    const { messages } = scenarioGenerationRequest(`${"sehr ".repeat(100)}lang\nund mehrzeilig`, "B1");
    const content = messages.at(-1)?.content ?? "";
    expect(content.length).toBeLessThanOrEqual("Thema: ".length + 200);
    expect(content).not.toContain("\n");
  });

  it("parses an answer into a scenario with a stable gen- id and the level", () => {
    const scenario = parseGeneratedScenario(JSON.stringify(generated), "Fahrrad", "A2");
    expect(scenario).toEqual({ ...generated, id: expect.stringMatching(/^gen-[0-9a-f]{12}$/), levels: ["A2"] });
    expect(scenarioSchema.parse(scenario)).toEqual(scenario);
    expect(parseGeneratedScenario(JSON.stringify(generated), "Fahrrad", "A2").id).toBe(scenario.id);
    // The id depends on topic, level and content.
    expect(parseGeneratedScenario(JSON.stringify(generated), "Fahrräder", "A2").id).not.toBe(scenario.id);
    expect(parseGeneratedScenario(JSON.stringify(generated), "Fahrrad", "B1").id).not.toBe(scenario.id);
    expect(
      parseGeneratedScenario(JSON.stringify({ ...generated, title: "Beim Fahrradladen" }), "Fahrrad", "A2").id,
    ).not.toBe(scenario.id);
  });

  it("clamps over-long texts, cleans markup and whitespace, keeps five goals at most", () => {
    const scenario = parseGeneratedScenario(
      JSON.stringify({
        ...generated,
        title: `Ein <b>sehr</b> langer Titel ${"mit vielen Wörtern ".repeat(10)}`,
        setting: `${"Ein Satz über die Situation. ".repeat(30)}`,
        tutorRole: "  Mechaniker\n\n im   Laden ",
        goals: ["eins", "", "zwei", "drei", "vier", "fünf", "sechs", "x".repeat(500)],
        opening: "Hallo?".repeat(100),
      }),
      "Fahrrad",
      "B1",
    );
    expect(scenario.title.length).toBeLessThanOrEqual(scenarioLimits.title);
    expect(scenario.title).toMatch(/^Ein sehr langer Titel mit vielen Wörtern .*…$/);
    expect(scenario.title).not.toMatch(/\s…$/); // cut at a word, not before a space
    expect(scenario.setting.length).toBeLessThanOrEqual(scenarioLimits.setting);
    expect(scenario.setting.endsWith("…")).toBe(true);
    expect(scenario.tutorRole).toBe("Mechaniker im Laden");
    expect(scenario.goals).toEqual(["eins", "zwei", "drei", "vier", "fünf"]);
    expect(scenario.opening.length).toBeLessThanOrEqual(scenarioLimits.opening);
    expect(scenarioSchema.safeParse(scenario).success).toBe(true);
  });

  const bad: Array<[string, string]> = [
    ["not JSON", "Hier ist ein Szenario: Im Fahrradladen"],
    ["cut off", JSON.stringify(generated).slice(0, 40)],
    ["a field missing", JSON.stringify({ ...generated, opening: undefined })],
    ["goals not a list", JSON.stringify({ ...generated, goals: "Preis fragen" })],
    ["no goals", JSON.stringify({ ...generated, goals: [] })],
    ["an empty title", JSON.stringify({ ...generated, title: "  <i></i> " })],
    ["only empty goals", JSON.stringify({ ...generated, goals: ["", " "] })],
  ];
  for (const [name, raw] of bad) {
    it(`throws ModelOutputError: ${name}`, () => {
      let thrown: unknown;
      try {
        parseGeneratedScenario(raw, "Fahrrad", "A2");
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ModelOutputError);
      expect((thrown as ModelOutputError).what).toBe("scenario");
      expect((thrown as Error).message).toMatch(/^The model's scenario could not be used: .+\.$/);
    });
  }
});
