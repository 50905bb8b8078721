import { getLogger } from "@plauder/runtime";
import { notifyEach } from "./messages";

/** Handlers per channel; a throwing handler is logged and does not stop the others. */
export class ChannelHandlers {
  private readonly byChannel = new Map<string, Set<(payload: string) => void>>();

  /** Adds a handler; returns whether it is the channel's first (the caller then subscribes upstream). */
  add(channel: string, handler: (payload: string) => void): boolean {
    let handlers = this.byChannel.get(channel);
    const first = !handlers;
    if (!handlers) {
      handlers = new Set();
      this.byChannel.set(channel, handlers);
    }
    handlers.add(handler);
    return first;
  }

  /** Removes a handler; returns whether the channel has none left (the caller then unsubscribes). */
  remove(channel: string, handler: (payload: string) => void): boolean {
    const handlers = this.byChannel.get(channel);
    if (!handlers?.delete(handler)) return false;
    if (handlers.size > 0) return false;
    this.byChannel.delete(channel);
    return true;
  }

  dispatch(channel: string, payload: string): void {
    const handlers = this.byChannel.get(channel);
    if (handlers) notifyEach(handlers, payload, getLogger(), `handler for ${channel}`);
  }

  /** Handlers registered over all channels (a leak check: it returns to its baseline when clients leave). */
  count(): number {
    let total = 0;
    for (const handlers of this.byChannel.values()) total += handlers.size;
    return total;
  }
}
