import { type Encoder, jsonEncoder } from "@trpc/server/adapters/ws";
import { HandoffBroadcast } from "../broadcasts/handoff";

type Outgoing = {
  id?: string | number | null;
  jsonrpc?: string;
  result?: { type?: string; data?: { data?: unknown } };
};

/**
 * Calls one frame may carry. wsLink packs the requests a page makes in the same tick into one frame,
 * a handful in practice; a frame of thousands is an attack that would hold the event loop for seconds.
 */
export const maxCallsPerFrame = 100;

/**
 * The WebSocket encoder: tRPC's JSON encoding, plus one observation. When a broadcast subscription's
 * event goes out, the encoder sees the message id the client chose for that subscription and hands
 * it to the subscription (see {@link HandoffBroadcast}).
 */
export const realtimeEncoder: Encoder = {
  encode(message: unknown) {
    const outgoing = message as Outgoing;
    const event = outgoing.result?.data?.data;
    if (event instanceof HandoffBroadcast && outgoing.id !== undefined && outgoing.id !== null) {
      event.slot.id = outgoing.id;
      event.slot.jsonrpc = outgoing.jsonrpc;
    }
    return JSON.stringify(message);
  },
  // Incoming frames are read as tRPC's own encoder reads them (binary frames are refused); a frame
  // with too many calls is refused whole, as a PARSE_ERROR, before any of them runs.
  decode(data) {
    const message = jsonEncoder.decode(data);
    if (Array.isArray(message) && message.length > maxCallsPerFrame) {
      throw new Error(`At most ${maxCallsPerFrame} calls per frame`);
    }
    return message;
  },
};
