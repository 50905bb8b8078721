/**
 * How hard the resilience suite pushes. The short form runs with every `npm test`; the heavy form
 * (`RESILIENCE_PROFILE=heavy`, which `npm run reliability` sets) repeats faults more often and holds
 * more connections.
 */
export const heavy = process.env.RESILIENCE_PROFILE === "heavy";

/** Picks the short-form or heavy-form size of a case. */
export function scale<T>(short: T, heavyValue: T): T {
  return heavy ? heavyValue : short;
}

export const profileName = heavy ? "heavy" : "short";
