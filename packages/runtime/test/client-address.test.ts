import { describe, expect, it } from "vitest";
import { forwardedAddress } from "../src/client-address";
import { parseEnv } from "../src/env";

describe("client address behind proxies", () => {
  it("takes the entry the trusted proxy appended, not what the client sent before it", () => {
    // nginx's $proxy_add_x_forwarded_for: the client's own header, then the address nginx saw.
    expect(forwardedAddress("203.0.113.9, 198.51.100.7", 1)).toBe("198.51.100.7");
    expect(forwardedAddress("1.1.1.1, 2.2.2.2, 198.51.100.7", 1)).toBe("198.51.100.7");
    expect(forwardedAddress("198.51.100.7", 1)).toBe("198.51.100.7");
  });

  it("counts as many proxies from the right as are trusted", () => {
    expect(forwardedAddress("203.0.113.9, 198.51.100.7, 10.0.0.2", 2)).toBe("198.51.100.7");
    // Fewer entries than proxies: the request did not come through them; nothing is trusted.
    expect(forwardedAddress("10.0.0.2", 2)).toBeUndefined();
  });

  it("joins repeated headers in order and ignores empty entries", () => {
    expect(forwardedAddress(["203.0.113.9", "198.51.100.7"], 1)).toBe("198.51.100.7");
    expect(forwardedAddress("198.51.100.7, ,", 1)).toBe("198.51.100.7");
  });

  it("ignores the header when no proxy is trusted, and absurd entries always", () => {
    expect(forwardedAddress("198.51.100.7", 0)).toBeUndefined();
    expect(forwardedAddress(undefined, 1)).toBeUndefined();
    expect(forwardedAddress("x".repeat(65), 1)).toBeUndefined();
  });

  it("reads TRUST_PROXY as a number of proxies", () => {
    expect(parseEnv({}).TRUST_PROXY).toBe(0);
    expect(parseEnv({ TRUST_PROXY: "false" }).TRUST_PROXY).toBe(0);
    expect(parseEnv({ TRUST_PROXY: "true" }).TRUST_PROXY).toBe(1);
    expect(parseEnv({ TRUST_PROXY: "2" }).TRUST_PROXY).toBe(2);
    expect(() => parseEnv({ TRUST_PROXY: "yes please" })).toThrow(/TRUST_PROXY/);
  });
});
