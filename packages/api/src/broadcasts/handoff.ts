import type { Broadcast } from "./types";

/** Where a subscription learns the tRPC id the client gave it. */
export type IdSlot = { id?: string | number; jsonrpc?: string };

/**
 * A broadcast yielded through tRPC's generator path, carrying a slot for its subscription's id.
 * A subscription's procedure cannot see its own tRPC id; the WebSocket encoder can, when it
 * serialises this event, and writes it into the slot. From then on the subscription can take the
 * direct path. Serialises exactly like the plain broadcast.
 */
export class HandoffBroadcast {
  constructor(
    readonly broadcast: Broadcast,
    readonly slot: IdSlot,
  ) {}

  toJSON(): Broadcast {
    return this.broadcast;
  }
}
