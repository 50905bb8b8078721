import { randomBytes } from "node:crypto";
import type { Diagnostics } from "@plauder/api";
import type { ClusterOptions } from "../../support/cluster";
import type { Instance } from "../../support/processes";

/** A diagnostics token for this test process's instances (set as DIAGNOSTICS_TOKEN). */
export const diagnosticsToken = randomBytes(24).toString("hex");

/** `options` with what makes an instance's leak figures readable: the token, and a heap measured after GC. */
export function diagnosable<T extends ClusterOptions>(options: T): T {
  return {
    ...options,
    nodeArgs: [...(options.nodeArgs ?? []), "--expose-gc"],
    env: { ...options.env, DIAGNOSTICS_TOKEN: diagnosticsToken },
  };
}

export async function readDiagnostics(instance: Instance): Promise<Diagnostics> {
  const response = await fetch(`${instance.url}/api/diagnostics`, {
    headers: { authorization: `Bearer ${diagnosticsToken}` },
  });
  if (!response.ok) throw new Error(`diagnostics answered ${response.status}: is DIAGNOSTICS_TOKEN set?`);
  return (await response.json()) as Diagnostics;
}

/** Polls diagnostics until `done` holds or the timeout passes; returns the last reading either way. */
export async function diagnosticsWhen(
  instance: Instance,
  done: (d: Diagnostics) => boolean,
  timeoutMs = 10_000,
): Promise<Diagnostics> {
  const deadline = Date.now() + timeoutMs;
  let reading = await readDiagnostics(instance);
  while (!done(reading) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    reading = await readDiagnostics(instance);
  }
  return reading;
}

export const timers = (d: Diagnostics) => d.activeResources.Timeout ?? 0;
