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
        const batch = this.items;
        this.items = [];
        for (const item of batch) {
          if (signal.aborted || this.overflowed) return;
          yield item;
        }
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }
}
