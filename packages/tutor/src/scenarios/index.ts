export {
  clampText,
  maxScenarioTopicLength,
  parseGeneratedScenario,
  scenarioGenerationRequest,
  scenarioPromptVersion,
} from "./generate";
export { findScenario, scenarioLibrary } from "./library";
export { type Scenario, scenarioLimits, scenarioSchema } from "./schema";
