import { z } from "zod";
import { cefrLevelSchema } from "../levels";

/** The longest each of a scenario's texts may be; a generated scenario's texts are cut to these. */
export const scenarioLimits = {
  title: 80,
  titleEn: 80,
  setting: 400,
  tutorRole: 120,
  learnerRole: 120,
  goal: 160,
  goals: 5,
  opening: 300,
} as const;

/** A role-play the tutor plays with the learner: the tutor opens with `opening`, in its role, at the learner's level. */
export const scenarioSchema = z.object({
  /** `bakery`, `flat-viewing`, … for the library; `gen-` + 12 hex digits for a generated one. */
  id: z.string().regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/),
  /** German. */
  title: z.string().min(1).max(scenarioLimits.title),
  titleEn: z.string().min(1).max(scenarioLimits.titleEn),
  /** German, 1–3 sentences: where, when, what is going on. */
  setting: z.string().min(1).max(scenarioLimits.setting),
  /** German: who the tutor plays. */
  tutorRole: z.string().min(1).max(scenarioLimits.tutorRole),
  /** German: who the learner plays. */
  learnerRole: z.string().min(1).max(scenarioLimits.learnerRole),
  /** German, at the scenario's level: what the learner should manage to do. */
  goals: z.array(z.string().min(1).max(scenarioLimits.goal)).min(1).max(scenarioLimits.goals),
  /** The tutor's first line, German, in role. */
  opening: z.string().min(1).max(scenarioLimits.opening),
  /** The levels it suits. */
  levels: z.array(cefrLevelSchema).min(1),
});
export type Scenario = z.infer<typeof scenarioSchema>;
