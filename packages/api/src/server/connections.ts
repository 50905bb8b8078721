import { processSingleton } from "@plauder/runtime";

/** Live WebSocket connections of this process, readable from Next's copy of this module too. */
const registry = () => processSingleton("connections", () => ({ count: 0 }));

export function connectionCount(): number {
  return registry().count;
}

export function trackConnection(): () => void {
  registry().count += 1;
  let done = false;
  return () => {
    if (done) return;
    done = true;
    registry().count -= 1;
  };
}
