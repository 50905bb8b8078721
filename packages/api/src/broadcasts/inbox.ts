/**
 * A bounded queue read by one async iterator. Pushing past the limit calls `onOverflow` once and
 * drops the item: a subscriber that cannot keep up is cut off instead of growing memory.
 */
export class Inbox<T> {
  private items: T[] = [];
  private wake: (() => void) | null = null;
  private overflowed = false;

  constructor(
    private readonly limit: number,
    private readonly onOverflow: () => void,
  ) {}

  push(item: T): void {
    if (this.overflowed) return;
    if (this.items.length >= this.limit) {
      this.overflowed = true;
      this.items = [];
      this.onOverflow();
      this.wake?.();
      return;
    }
    this.items.push(item);
    this.wake?.();
  }

  /** Removes and returns everything waiting. */
  takeAll(): T[] {
    const items = this.items;
    this.items = [];
    return items;
  }

  /** Yields items as they arrive until `signal` aborts or the inbox overflows. */
  async *drain(signal: AbortSignal): AsyncGenerator<T> {
    const onAbort = () => this.wake?.();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      while (!signal.aborted && !this.overflowed) {
        if (this.items.length === 0) {
          await new Promise<void>((resolve) => {
            this.wake = resolve;
          });
          this.wake = null;
          continue;
        }
        // One at a time, so a reader that stops early leaves the rest here for takeAll().
        const item = this.items.shift() as T;
        yield item;
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }
}
