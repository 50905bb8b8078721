import { processSingleton } from "@plauder/runtime";

/** Live WebSocket connections of this process, readable from Next's copy of this module too. */
const registry = () => processSingleton("connections", () => ({ count: 0 }));

export function connectionCount(): number {
  return registry().count;
}

/** Called once when a socket opens, and once when it closes (its one close event). */
export function connectionOpened(): void {
  registry().count += 1;
}

export function connectionClosed(): void {
  registry().count -= 1;
}
