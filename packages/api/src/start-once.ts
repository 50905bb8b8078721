/**
 * A start that runs once for everyone who asks, shared while it runs. A failed start is forgotten,
 * so the next caller tries again: what it needed (the store, Redis) may be back by then.
 */
export class StartOnce {
  private running: Promise<void> | null = null;

  constructor(private readonly begin: () => Promise<void>) {}

  run(): Promise<void> {
    this.running ??= this.begin().catch((error: unknown) => {
      this.running = null;
      throw error;
    });
    return this.running;
  }

  /** Whether a start is under way or done (a failed one counts as never begun). */
  begun(): boolean {
    return this.running !== null;
  }
}
