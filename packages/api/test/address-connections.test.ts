import { describe, expect, it } from "vitest";
import { AddressConnections } from "../src/server/address-connections";

describe("connections per address", () => {
  it("admits strangers up to their ceiling, and more once they authenticate", () => {
    const counts = new AddressConnections(5, 2);
    expect(counts.tryOpen("a")).toBeNull();
    expect(counts.tryOpen("a")).toBeNull();
    expect(counts.tryOpen("a")).toBe("unauthenticated");
    // Another address has its own places.
    expect(counts.tryOpen("b")).toBeNull();
    counts.authenticated("a");
    expect(counts.tryOpen("a")).toBeNull();
    expect(counts.countsOf("a")).toEqual({ total: 3, unauthenticated: 2 });
  });

  it("holds the overall ceiling however many authenticate", () => {
    const counts = new AddressConnections(3, 3);
    for (let i = 0; i < 3; i++) {
      expect(counts.tryOpen("a")).toBeNull();
      counts.authenticated("a");
    }
    expect(counts.tryOpen("a")).toBe("address");
    counts.release("a", true);
    expect(counts.tryOpen("a")).toBeNull();
  });

  it("gives back exactly what a connection held, and forgets an address with none", () => {
    const counts = new AddressConnections(3, 1);
    expect(counts.tryOpen("a")).toBeNull();
    counts.release("a", false);
    expect(counts.countsOf("a")).toEqual({ total: 0, unauthenticated: 0 });
    expect(counts.tryOpen("a")).toBeNull();
    counts.authenticated("a");
    counts.authenticated("a");
    expect(counts.tryOpen("a")).toBeNull();
    counts.release("a", true);
    counts.release("a", false);
    expect(counts.countsOf("a")).toEqual({ total: 0, unauthenticated: 0 });
  });
});
