import { describe, expect, it } from "vitest";
import type { WebSocket } from "ws";
import { DirectFanout, type DirectSubscriber, framePrefix, frameTail } from "../src/broadcasts/direct-fanout";
import { HandoffBroadcast, type IdSlot } from "../src/broadcasts/handoff";
import { Inbox } from "../src/broadcasts/inbox";
import type { Broadcast } from "../src/broadcasts/types";
import type { Connection } from "../src/context";
import { realtimeEncoder } from "../src/server/encoder";

const broadcast = (id: number, text = `text ${id}`): Broadcast => ({
  id: String(id),
  text,
  sender: { id: "u1", name: 'Anna "Ä" <3' },
  sentAt: 1_700_000_000_000 + id,
  instanceId: "a",
});

/** A socket double recording what was sent; `bufferedAmount` is settable to simulate a stalled client. */
function fakeConnection(bufferedAmount = 0) {
  const sent: string[] = [];
  let closedAsSlow = 0;
  const socket = { OPEN: 1, readyState: 1, bufferedAmount, send: (frame: string) => sent.push(frame) };
  const connection = {
    id: "c1",
    socket: socket as unknown as WebSocket,
    connectedAt: 0,
    closeAsSlowConsumer: () => {
      closedAsSlow++;
    },
  } satisfies Connection;
  return { connection, socket, sent, slowCloses: () => closedAsSlow };
}

describe("direct frames", () => {
  it("are byte-for-byte what tRPC's encoder writes for a tracked event", () => {
    const b = broadcast(7);
    for (const [id, jsonrpc] of [
      [3, undefined],
      ['sub-"x"', "2.0"],
    ] as const) {
      const adapterMessage = { id, jsonrpc, result: { type: "data", id: b.id, data: { id: b.id, data: b } } };
      expect(framePrefix(id, jsonrpc) + frameTail(b)).toBe(JSON.stringify(adapterMessage));
    }
  });
});

describe("direct fan-out", () => {
  it("writes each broadcast once per subscriber, in order, skipping ids already sent", () => {
    const fanout = new DirectFanout();
    const first = fakeConnection();
    const second = fakeConnection();
    const subscribers: DirectSubscriber[] = [
      { connection: first.connection, framePrefix: framePrefix(1, undefined), lastSentId: 0 },
      { connection: second.connection, framePrefix: framePrefix(9, undefined), lastSentId: 2 },
    ];
    for (const s of subscribers) fanout.add(s);
    for (const id of [1, 2, 3, 3]) fanout.deliver(broadcast(id));
    expect(first.sent.map((f) => JSON.parse(f).result.id)).toEqual(["1", "2", "3"]);
    expect(second.sent.map((f) => JSON.parse(f).id)).toEqual([9]);
    expect(JSON.parse(second.sent[0] as string).result.data.data.text).toBe("text 3");
  });

  it("closes a subscriber whose socket has too much unsent data instead of queueing more", () => {
    const fanout = new DirectFanout();
    const stalled = fakeConnection(50 * 1024 * 1024);
    fanout.add({ connection: stalled.connection, framePrefix: framePrefix(1, undefined), lastSentId: 0 });
    fanout.deliver(broadcast(1));
    expect(stalled.sent).toEqual([]);
    expect(stalled.slowCloses()).toBe(1);
  });

  it("stops writing to a subscriber once it leaves", () => {
    const fanout = new DirectFanout();
    const c = fakeConnection();
    const leave = fanout.add({ connection: c.connection, framePrefix: framePrefix(1, undefined), lastSentId: 0 });
    fanout.deliver(broadcast(1));
    leave();
    fanout.deliver(broadcast(2));
    expect(c.sent).toHaveLength(1);
    expect(fanout.size()).toBe(0);
  });
});

describe("id handoff through the encoder", () => {
  it("tells the subscription its tRPC id and serialises the plain broadcast", () => {
    const slot: IdSlot = {};
    const b = broadcast(4);
    const encoded = realtimeEncoder.encode({
      id: 12,
      jsonrpc: "2.0",
      result: { type: "data", id: "4", data: { id: "4", data: new HandoffBroadcast(b, slot) } },
    });
    expect(slot).toEqual({ id: 12, jsonrpc: "2.0" });
    expect(JSON.parse(encoded as string).result.data.data).toEqual(b);
  });

  it("leaves other messages alone and refuses binary frames like tRPC's own encoder", () => {
    expect(realtimeEncoder.encode({ id: 1, result: { type: "started" } })).toBe('{"id":1,"result":{"type":"started"}}');
    expect(() => realtimeEncoder.decode(new Uint8Array([1, 2, 3]))).toThrow();
  });
});

describe("inbox hand-over", () => {
  it("keeps what a reader did not take, for takeAll", async () => {
    const inbox = new Inbox<number>(10, () => {});
    for (const n of [1, 2, 3]) inbox.push(n);
    const controller = new AbortController();
    for await (const n of inbox.drain(controller.signal)) {
      expect(n).toBe(1);
      break;
    }
    expect(inbox.takeAll()).toEqual([2, 3]);
  });
});
