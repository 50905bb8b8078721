import { type Encoder, jsonEncoder } from "@trpc/server/adapters/ws";
import { HandoffBroadcast } from "../broadcasts/handoff";

type Outgoing = {
  id?: string | number | null;
  jsonrpc?: string;
  result?: { type?: string; data?: { data?: unknown } };
};

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
  // Incoming frames are read exactly as tRPC's own encoder reads them (binary frames are refused).
  decode: jsonEncoder.decode,
};
