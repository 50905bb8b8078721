/**
 * One value per process, shared by every copy of a module.
 *
 * Next.js bundles workspace packages into its route handlers, so the custom server and the handlers
 * load separate module instances in the same process. A plain module-level variable would give each
 * its own database client or bus; keying on a global symbol gives them one.
 */
export function processSingleton<T>(name: string, create: () => T): T {
  const key = Symbol.for(`plauder.${name}`);
  const store = globalThis as Record<symbol, unknown>;
  if (!(key in store)) store[key] = create();
  return store[key] as T;
}

/** Removes a process singleton (on shutdown and between tests). */
export function clearProcessSingleton(name: string): void {
  delete (globalThis as Record<symbol, unknown>)[Symbol.for(`plauder.${name}`)];
}
