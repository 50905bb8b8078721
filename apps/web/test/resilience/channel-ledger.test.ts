/**
 * The per-channel ledger on made-up subscriptions: that it passes a whole log, and that it counts
 * each kind of damage the channel cases must never see (a duplicate, a silent hole, a reordering),
 * while letting through what the contract allows (an announced ephemeral loss, a durable gap that
 * a sync named and a history reload filled, a failed publish that was stored after all).
 */
import type { ChannelEvent, ChannelPublication } from "@plauder/api";
import { describe, expect, it } from "vitest";
import { ChannelLedger, type LedgerSubscriber, mustBeZero, type StoredLog } from "./support/channel-ledger";
import type { HistoryReload } from "./support/channel-subscriber";

const channel = "room:00000000-0000-4000-8000-000000000001";
const durableEpoch = "d0";

function publication(kind: ChannelPublication["kind"], epoch: string, offset: number, sentAt = offset): ChannelEvent {
  return {
    type: "publication",
    channel,
    id: `${kind === "durable" ? "d" : "e"}:${epoch}:${offset}`,
    kind,
    epoch,
    offset,
    text: `${kind} ${epoch} ${offset}`,
    sender: { id: "u", name: "U" },
    sentAt,
  };
}
const d = (offset: number) => publication("durable", durableEpoch, offset);
const e = (epoch: string, offset: number, sentAt = offset) => publication("ephemeral", epoch, offset, sentAt);
const sync = (recovered: boolean, lost: ("durable" | "ephemeral")[] = [], resumed = false): ChannelEvent => ({
  type: "sync",
  channel,
  resumed,
  recovered,
  lost,
});

function subscriber(events: ChannelEvent[], reloads: HistoryReload[] = []): LedgerSubscriber {
  return {
    channel,
    label: "made-up",
    events: events.map((event, i) => ({ id: String(i), event, at: i })),
    reloads,
    errors: [],
    reloadFailures: [],
    reloaded: async () => {},
  };
}

/** A ledger with durable 1…`durable` and ephemeral `epoch`:1…n acknowledged, and the stored log. */
async function ledgerWith(durable: number, ephemeral: [string, number, number?][]) {
  const ledger = new ChannelLedger();
  const log: StoredLog = new Map();
  for (let offset = 1; offset <= durable; offset++) {
    const text = `durable ${durableEpoch} ${offset}`;
    log.set(offset, text);
    await ledger.publish(channel, "durable", text, async () => ({
      id: `d:${durableEpoch}:${offset}`,
      offset,
      epoch: durableEpoch,
      sentAt: offset,
    }));
  }
  for (const [epoch, offset, sentAt = offset] of ephemeral) {
    await ledger.publish(channel, "ephemeral", `ephemeral ${epoch} ${offset}`, async () => ({
      id: `e:${epoch}:${offset}`,
      offset,
      epoch,
      sentAt,
    }));
  }
  const check = async (...subscribers: LedgerSubscriber[]) => {
    const [result] = await ledger.check(subscribers, async () => log);
    return result?.figures;
  };
  return { ledger, log, check };
}

const zero = Object.fromEntries(mustBeZero.map((key) => [key, 0]));

describe("the per-channel ledger", () => {
  it("passes a whole log delivered live, and one resumed across a new ephemeral epoch behind a loss sync", async () => {
    const { check } = await ledgerWith(3, [
      ["x", 1],
      ["x", 2],
      ["y", 1, 10],
    ]);
    expect(await check(subscriber([sync(false), d(1), e("x", 1), d(2), e("x", 2), d(3), e("y", 1, 10)]))).toMatchObject(
      zero,
    );
    // x:2 missed, but a sync said the ephemeral log was lost before the next one arrived.
    const figures = await check(
      subscriber([sync(false), d(1), e("x", 1), d(2), sync(false, ["ephemeral"]), d(3), e("y", 1, 10)]),
    );
    expect(figures).toMatchObject({ ...zero, ephemeralLostAnnounced: 1 });
  });

  it("counts a durable publication delivered twice, and one delivered out of order", async () => {
    const { check } = await ledgerWith(3, []);
    expect(await check(subscriber([sync(false), d(1), d(2), d(3), d(2)]))).toMatchObject({ durableDuplicated: 1 });
    expect(await check(subscriber([sync(false), d(1), d(3), d(2)]))).toMatchObject({
      durableOutOfOrder: 1,
      durableSilentGaps: 1,
    });
  });

  it("counts a durable gap no sync named as silent even when a reload filled it; accepts one a sync named", async () => {
    const { check } = await ledgerWith(3, []);
    const reload: HistoryReload = {
      trigger: 3,
      at: 4,
      publications: [1, 2, 3].map((offset) => ({
        epoch: durableEpoch,
        offset,
        text: `durable ${durableEpoch} ${offset}`,
      })),
    };
    expect(await check(subscriber([sync(false), d(1), d(3)]))).toMatchObject({ durableLost: 1, durableSilentGaps: 1 });
    expect(await check(subscriber([sync(false), d(1), d(3)], [reload]))).toMatchObject({
      durableLost: 0,
      durableSilentGaps: 1,
    });
    expect(await check(subscriber([sync(false), d(1), sync(false, ["durable"], true), d(3)], [reload]))).toMatchObject({
      ...zero,
      durableFromHistory: 1,
    });
  });

  it("counts a silent ephemeral hole, inside an epoch, across epochs, and at the end", async () => {
    const { check } = await ledgerWith(0, [
      ["x", 1],
      ["x", 2],
      ["x", 3],
      ["y", 1, 10],
    ]);
    expect(await check(subscriber([sync(false), e("x", 1), e("x", 3), e("y", 1, 10)]))).toMatchObject({
      ephemeralLostSilently: 1,
    });
    expect(await check(subscriber([sync(false), e("x", 1), e("x", 2), e("y", 1, 10)]))).toMatchObject({
      ephemeralLostSilently: 1,
    });
    expect(await check(subscriber([sync(false), e("x", 1), e("x", 2), e("x", 3)]))).toMatchObject({
      ephemeralLostSilently: 1,
    });
    // The loss sync must come between the two sides of the gap, not before the last one received.
    expect(
      await check(subscriber([sync(false), sync(false, ["ephemeral"]), e("x", 1), e("x", 3), e("y", 1, 10)])),
    ).toMatchObject({ ephemeralLostSilently: 1 });
  });

  it("counts ephemeral duplicates and reorderings, an older epoch after a newer one included", async () => {
    const { check } = await ledgerWith(0, [
      ["x", 1],
      ["x", 2],
      ["y", 1, 10],
    ]);
    expect(await check(subscriber([sync(false), e("x", 1), e("x", 2), e("x", 2), e("y", 1, 10)]))).toMatchObject({
      ephemeralDuplicated: 1,
    });
    expect(await check(subscriber([sync(false), e("x", 1), e("y", 1, 10), e("x", 2)]))).toMatchObject({
      ephemeralOutOfOrder: 1,
    });
  });

  it("lets a failed publish that was stored arrive once, never twice", async () => {
    const { ledger, log, check } = await ledgerWith(1, []);
    await ledger.publish(channel, "durable", `durable ${durableEpoch} 2`, async () => {
      throw Object.assign(new Error("fetch failed"), { data: undefined });
    });
    log.set(2, `durable ${durableEpoch} 2`);
    expect(await check(subscriber([sync(false), d(1), d(2)]))).toMatchObject({
      ...zero,
      durableFailed: 1,
      unacknowledgedDelivered: 1,
    });
    expect(await check(subscriber([sync(false), d(1)]))).toMatchObject({ ...zero, unacknowledgedMissed: 1 });
    expect(await check(subscriber([sync(false), d(1), d(2), d(2)]))).toMatchObject({ durableDuplicated: 1 });
  });

  it("counts text that differs from what was stored", async () => {
    const { check } = await ledgerWith(1, []);
    const wrong = { ...(d(1) as ChannelPublication), text: "something else" };
    expect(await check(subscriber([sync(false), wrong]))).toMatchObject({ textMismatches: 1 });
  });
});
