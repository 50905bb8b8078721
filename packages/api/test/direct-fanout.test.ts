import { describe, expect, it } from "vitest";
import type { WebSocket } from "ws";
import {
  BroadcastHandover,
  type DeliveryCounter,
  DirectFanout,
  FanoutMember,
  frameTail,
} from "../src/broadcasts/direct-fanout";
import { Inbox } from "../src/broadcasts/inbox";
import type { Broadcast } from "../src/broadcasts/types";
import type { Connection } from "../src/context";
import { appRouter } from "../src/root";
import { framePrefix } from "../src/server/handover";
import { serializeResponse } from "../src/server/socket-protocol";

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
    holdForOwnSignOut: () => () => {},
  } satisfies Connection;
  return { connection, socket, sent, slowCloses: () => closedAsSlow };
}

/** Counts what a subscription reports, as the router's metrics counter would. */
function counter() {
  const counts = { sent: 0, done: 0 };
  const delivery: DeliveryCounter = {
    sent: (n = 1) => {
      counts.sent += n;
    },
    done: () => {
      counts.done++;
    },
  };
  return { counts, delivery };
}

function member(fanout: DirectFanout, connection: Connection, subscriptionId: number, lastSentId = 0) {
  return new FanoutMember(connection, framePrefix(subscriptionId, undefined), lastSentId, fanout, counter().delivery);
}

describe("direct frames", () => {
  it("are byte-for-byte what the socket protocol writes for a tracked event", () => {
    const b = broadcast(7);
    for (const [id, jsonrpc] of [
      [3, undefined],
      ['sub-"x"', "2.0"],
    ] as const) {
      const generic = serializeResponse(appRouter._def._config, {
        id,
        jsonrpc,
        result: { type: "data", id: b.id, data: { id: b.id, data: b } },
      });
      expect(framePrefix(id, jsonrpc) + frameTail(b)).toBe(generic);
    }
  });
});

describe("direct fan-out", () => {
  it("writes each broadcast once per subscriber, in order, skipping ids already sent", () => {
    const fanout = new DirectFanout();
    const first = fakeConnection();
    const second = fakeConnection();
    fanout.add(member(fanout, first.connection, 1));
    fanout.add(member(fanout, second.connection, 9, 2));
    for (const id of [1, 2, 3, 3]) fanout.deliver(broadcast(id));
    expect(first.sent.map((f) => JSON.parse(f).result.id)).toEqual(["1", "2", "3"]);
    expect(second.sent.map((f) => JSON.parse(f).id)).toEqual([9]);
    expect(JSON.parse(second.sent[0] as string).result.data.data.text).toBe("text 3");
  });

  it("closes a subscriber whose socket has too much unsent data instead of queueing more", () => {
    const fanout = new DirectFanout();
    const stalled = fakeConnection(50 * 1024 * 1024);
    fanout.add(member(fanout, stalled.connection, 1));
    fanout.deliver(broadcast(1));
    expect(stalled.sent).toEqual([]);
    expect(stalled.slowCloses()).toBe(1);
  });

  it("stops writing to a member once it stops, and counts its end once", () => {
    const fanout = new DirectFanout();
    const c = fakeConnection();
    const { counts, delivery } = counter();
    const m = new FanoutMember(c.connection, framePrefix(1, undefined), 0, fanout, delivery);
    fanout.add(m);
    fanout.deliver(broadcast(1));
    m.stop();
    m.stop();
    fanout.deliver(broadcast(2));
    expect(c.sent).toHaveLength(1);
    expect(fanout.size()).toBe(0);
    expect(counts.done).toBe(1);
  });
});

describe("broadcast handover", () => {
  it("sends what waited in the inbox past the replay, stops listening and joins the fan-out in one step", () => {
    const fanout = new DirectFanout();
    const c = fakeConnection();
    const inbox = new Inbox<Broadcast>(10, () => {});
    // 2 was already replayed; 3 and 4 arrived while the replay ran.
    for (const id of [2, 3, 4]) inbox.push(broadcast(id));
    let listening = true;
    const { counts, delivery } = counter();
    const handover = new BroadcastHandover(c.connection, fanout, inbox, () => (listening = false), delivery, 2);
    const detached = handover.attach(framePrefix(5, undefined));
    expect(listening).toBe(false);
    expect(fanout.size()).toBe(1);
    fanout.deliver(broadcast(4));
    fanout.deliver(broadcast(5));
    expect(c.sent.map((f) => [JSON.parse(f).id, JSON.parse(f).result.id])).toEqual([
      [5, "3"],
      [5, "4"],
      [5, "5"],
    ]);
    expect(counts.sent).toBe(2);
    detached.stop();
    expect(fanout.size()).toBe(0);
    expect(counts.done).toBe(1);
  });

  it("gives back the listener and the count when cancelled instead", () => {
    const fanout = new DirectFanout();
    let listening = true;
    const { counts, delivery } = counter();
    const handover = new BroadcastHandover(
      fakeConnection().connection,
      fanout,
      new Inbox<Broadcast>(10, () => {}),
      () => (listening = false),
      delivery,
      0,
    );
    handover.cancel();
    expect(listening).toBe(false);
    expect(counts.done).toBe(1);
    expect(fanout.size()).toBe(0);
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
