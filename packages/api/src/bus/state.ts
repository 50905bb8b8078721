import type { BusState } from "./bus";

/**
 * A Redis bus's state as its listeners hear it: it starts `down`, each change is told once (the
 * caller says what its log line carries), and once the bus is closing nothing changes any more, so
 * the connections going away are not announced as an outage.
 */
export class BusStateWatch {
  private current: BusState = "down";
  private closed = false;
  private readonly listeners = new Set<(state: BusState) => void>();

  state(): BusState {
    return this.current;
  }

  /** Whether the bus is closing (nothing it does from now on is news). */
  closing(): boolean {
    return this.closed;
  }

  /** Moves to `next`; when that is a change, `announce` logs it and every listener hears it. Returns whether it was one. */
  change(next: BusState, announce: (next: BusState) => void): boolean {
    if (this.closed || next === this.current) return false;
    this.current = next;
    announce(next);
    for (const listener of this.listeners) listener(next);
    return true;
  }

  listen(listener: (state: BusState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.closed = true;
  }
}
