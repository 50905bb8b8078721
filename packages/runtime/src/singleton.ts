/**
 * One value per process, shared by every copy of a module.
 *
 * Next.js bundles workspace packages into its route handlers, so the custom server and the handlers
 * load separate module instances in the same process. A plain module-level variable would give each
 * its own database client or bus; keying on a global symbol gives them one.
 */
export function processSingleton<T>(name: string, create: () => T): T {
  const store = globalThis as Record<symbol, unknown>;
  const key = keyOf(name);
  if (!(key in store)) store[key] = create();
  return store[key] as T;
}

/** Removes a process singleton (on shutdown and between tests). */
export function clearProcessSingleton(name: string): void {
  delete (globalThis as Record<symbol, unknown>)[keyOf(name)];
}

/**
 * Takes a process singleton off the process and closes it, if one was created; never creates one.
 * It is removed before closing, so a caller arriving during the close gets a fresh value.
 */
export async function closeProcessSingleton<T>(name: string, close: (value: T) => unknown): Promise<void> {
  const store = globalThis as Record<symbol, unknown>;
  const key = keyOf(name);
  if (!(key in store)) return;
  const value = store[key] as T;
  delete store[key];
  await close(value);
}

function keyOf(name: string): symbol {
  return Symbol.for(`plauder.${name}`);
}
