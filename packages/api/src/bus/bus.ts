/** Whether the bus reaches other instances: `off` means there are none to reach (in-process bus). */
export type BusState = "up" | "down" | "off";

/**
 * Carries messages between server instances. Each instance subscribes once per channel and fans
 * out locally, so one published message costs one delivery per instance, not per client.
 */
export interface Bus {
  /** Sends a message to every instance's handlers for the channel, this one's included. Rejects when the bus is down. */
  publish(channel: string, payload: string): Promise<void>;
  /** Registers a handler for a channel; returns the function that removes it. */
  subscribe(channel: string, handler: (payload: string) => void): () => void;
  state(): BusState;
  /** Local handlers registered, over all channels. */
  handlerCount(): number;
  /** Called whenever the state changes, e.g. `down` when Redis goes away and `up` when it is back. */
  onStateChange(listener: (state: BusState) => void): () => void;
  close(): Promise<void>;
}

/** The bus could not take a message (Redis unreachable); the caller decides how to degrade. */
export class BusUnavailableError extends Error {
  constructor(cause?: unknown) {
    super("message bus unavailable", { cause });
    this.name = "BusUnavailableError";
  }
}
