import { z } from "zod";
import data from "./library.json" with { type: "json" };
import { type Scenario, scenarioSchema } from "./schema";

const librarySchema = z.array(scenarioSchema).superRefine((scenarios, context) => {
  const seen = new Set<string>();
  for (const [index, scenario] of scenarios.entries()) {
    if (seen.has(scenario.id)) context.addIssue({ code: "custom", path: [index, "id"], message: "duplicate id" });
    if (scenario.id.startsWith("gen-")) {
      context.addIssue({ code: "custom", path: [index, "id"], message: "gen- is for generated scenarios" });
    }
    seen.add(scenario.id);
  }
});

function load(): readonly Scenario[] {
  const result = librarySchema.safeParse(data);
  if (!result.success) {
    throw new Error(`src/scenarios/library.json is not a valid scenario library: ${z.prettifyError(result.error)}`);
  }
  return Object.freeze(
    result.data.map((scenario) => {
      Object.freeze(scenario.goals);
      Object.freeze(scenario.levels);
      return Object.freeze(scenario);
    }),
  );
}

/** The ready-made scenarios (src/scenarios/library.json), checked with {@link scenarioSchema} when loaded. */
export const scenarioLibrary: readonly Scenario[] = load();

/** The library scenario with this id. Generated scenarios (`gen-…`) are the server's to keep. */
export function findScenario(id: string): Scenario | undefined {
  return scenarioLibrary.find((scenario) => scenario.id === id);
}
