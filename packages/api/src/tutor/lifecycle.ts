import { closeProcessSingleton } from "@plauder/runtime";
import type { GenerationRunner } from "./runner";

/**
 * Shutdown: answers under way end as failed with what had arrived (their learners can regenerate
 * them on another instance), then the model provider lets go of what it holds.
 */
export async function closeTutor(): Promise<void> {
  await closeProcessSingleton<GenerationRunner>("tutor.runner", (runner) => runner.close());
  await closeProcessSingleton<{ close(): Promise<void> }>("tutor.provider", (provider) => provider.close());
}
