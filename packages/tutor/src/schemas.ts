/**
 * The tutor's data shapes and the scenario library, without any provider code: what browsers and
 * the CLI may import (`@plauder/tutor/schemas`) to check what the server sends.
 */

export {
  type Correction,
  type CorrectionCategory,
  type CorrectionEdit,
  correctionCategories,
  correctionSchema,
} from "./corrections/schema";
export { type CefrLevel, cefrLevelSchema, cefrLevels } from "./levels";
export { findScenario, scenarioLibrary } from "./scenarios/library";
export { type Scenario, scenarioSchema } from "./scenarios/schema";
