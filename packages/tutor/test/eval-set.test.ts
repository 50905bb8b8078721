import { describe, expect, it } from "vitest";
import { loadEvalSet } from "../scripts/eval-set";
import { parseCorrection } from "../src";

describe("the evaluation set (eval/sentences.json)", async () => {
  const sentences = await loadEvalSet();

  it("has about forty sentences from A1 to B2, ids unique, a few already correct", () => {
    expect(sentences.length).toBeGreaterThanOrEqual(35);
    expect(new Set(sentences.map((sentence) => sentence.id)).size).toBe(sentences.length);
    for (const level of ["A1", "A2", "B1", "B2"] as const) {
      expect(sentences.filter((sentence) => sentence.level === level).length).toBeGreaterThanOrEqual(6);
    }
    const correct = sentences.filter((sentence) => sentence.text === sentence.corrected);
    expect(correct.length).toBeGreaterThanOrEqual(4);
    for (const sentence of correct) expect(sentence.categories).toEqual([]);
  });

  it("expects a change wherever it names a mistake", () => {
    for (const sentence of sentences.filter((item) => item.text !== item.corrected)) {
      expect(sentence.categories.length, sentence.id).toBeGreaterThan(0);
      // The expected correction as a model answer with no explanations: every changed place is an edit.
      const { edits } = parseCorrection(sentence.text, JSON.stringify({ corrected: sentence.corrected, edits: [] }));
      expect(edits.length, sentence.id).toBeGreaterThanOrEqual(1);
    }
  });
});
