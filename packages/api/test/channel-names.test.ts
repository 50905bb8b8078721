import { describe, expect, it } from "vitest";
import { LogCursor } from "../src/channels/fanout";
import { channelNameInput, parseChannelName } from "../src/channels/names";
import { type ChannelPublication, formatPosition, parsePosition, positionInput } from "../src/channels/types";

const id = "0b7f3c2e-4a5d-4e6f-8a9b-0c1d2e3f4a5b";

describe("channel names", () => {
  it("reads the four namespaces", () => {
    expect(parseChannelName("lobby")).toEqual({ namespace: "lobby", name: "lobby" });
    for (const namespace of ["room", "user", "conversation"]) {
      expect(parseChannelName(`${namespace}:${id}`)).toEqual({ namespace, id, name: `${namespace}:${id}` });
    }
  });

  it("says in a sentence why a name is not one", () => {
    expect(parseChannelName("lobby2")).toEqual({ error: expect.stringContaining("Unknown channel") });
    expect(parseChannelName("chat:1")).toEqual({ error: expect.stringContaining('namespace "chat"') });
    expect(parseChannelName("room:1")).toEqual({ error: "The id in a room channel must be a lower-case UUID" });
    expect(parseChannelName(`room:${id.toUpperCase()}`)).toHaveProperty("error");
    expect(parseChannelName(`room:${id}:x`)).toHaveProperty("error");
    const tooLong = channelNameInput.safeParse(`conversation:${id}${"0".repeat(40)}`);
    expect(tooLong.success).toBe(false);
  });
});

describe("positions", () => {
  it("round-trip, including the empty epochs of logs that do not exist yet", () => {
    const position = { durableEpoch: "k3j9x0a1", durable: 42, ephemeralEpoch: "", ephemeral: 0 };
    expect(formatPosition(position)).toBe("k3j9x0a1:42::0");
    expect(parsePosition("k3j9x0a1:42::0")).toEqual(position);
  });

  it("refuse anything else as lastEventId", () => {
    for (const bad of ["42", "a:1:b", "A:1:b:2", "a:-1:b:2", "a:1:b:2:3", `${"a".repeat(17)}:1:b:2`, "a:1:b:1e3"]) {
      expect(parsePosition(bad), bad).toBeNull();
      expect(positionInput.safeParse(bad).success, bad).toBe(false);
    }
  });
});

describe("a subscription's cursor", () => {
  const publication = (kind: "durable" | "ephemeral", epoch: string, offset: number): ChannelPublication => ({
    type: "publication",
    channel: "lobby",
    id: `${kind[0]}:${epoch}:${offset}`,
    kind,
    epoch,
    offset,
    text: "",
    sender: { id: "u", name: "U" },
    sentAt: 0,
  });

  it("takes each publication once per log, and a new ephemeral epoch from its start", () => {
    const cursor = new LogCursor(5, "e1", 3);
    expect(cursor.wants(publication("durable", "d", 5))).toBe(false);
    expect(cursor.wants(publication("durable", "d", 6))).toBe(true);
    expect(cursor.wants(publication("durable", "d", 6))).toBe(false);
    expect(cursor.wants(publication("ephemeral", "e1", 3))).toBe(false);
    expect(cursor.wants(publication("ephemeral", "e1", 4))).toBe(true);
    // Redis lost the log and started again at 1: a new epoch is new, whatever its offsets.
    expect(cursor.wants(publication("ephemeral", "e2", 1))).toBe(true);
    expect(cursor.wants(publication("ephemeral", "e2", 1))).toBe(false);
    expect(cursor.wants({ type: "sync", channel: "lobby", resumed: false, recovered: false, lost: [] })).toBe(true);
  });
});
