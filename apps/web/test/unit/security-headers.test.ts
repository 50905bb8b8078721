import { describe, expect, it } from "vitest";
import { baselineHeaders, contentSecurityPolicy, newNonce, permissionsPolicy } from "../../src/lib/security-headers";

/** The policy as a map from directive to its sources. */
function directives(policy: string): Map<string, string[]> {
  return new Map(
    policy.split(";").map((part) => {
      const [name = "", ...sources] = part.trim().split(/\s+/);
      return [name, sources];
    }),
  );
}

describe("contentSecurityPolicy", () => {
  it("allows scripts only by this response's nonce in production", () => {
    const policy = directives(contentSecurityPolicy("abc123==", { dev: false }));
    expect(policy.get("script-src")).toEqual(["'self'", "'nonce-abc123=='", "'strict-dynamic'"]);
    expect(policy.get("style-src")).toEqual(["'self'"]);
    expect(policy.get("object-src")).toEqual(["'none'"]);
    expect(policy.get("base-uri")).toEqual(["'none'"]);
    expect(policy.get("frame-ancestors")).toEqual(["'none'"]);
    expect(policy.get("form-action")).toEqual(["'self'"]);
    expect(policy.get("connect-src")).toEqual(["'self'"]);
    expect(policy.get("default-src")).toEqual(["'self'"]);
    const all = [...policy.values()].flat();
    expect(all).not.toContain("'unsafe-inline'");
    expect(all).not.toContain("'unsafe-eval'");
    expect(all).not.toContain("*");
  });

  it("adds what React refresh and the dev overlay need in development, and nothing for frames", () => {
    const policy = directives(contentSecurityPolicy("n", { dev: true }));
    expect(policy.get("script-src")).toContain("'unsafe-eval'");
    expect(policy.get("script-src")).not.toContain("'unsafe-inline'");
    expect(policy.get("style-src")).toContain("'unsafe-inline'");
    expect(policy.get("frame-ancestors")).toEqual(["'none'"]);
  });

  it("uses a nonce Next can read, fresh each time", () => {
    const nonces = new Set(Array.from({ length: 100 }, newNonce));
    expect(nonces.size).toBe(100);
    for (const nonce of nonces) {
      // Next's own pattern (get-script-nonce-from-header.js); 16 random bytes.
      expect(`'nonce-${nonce}'`).toMatch(/^'nonce-([A-Za-z0-9+/_-]+={0,2})'$/);
      expect(Buffer.from(nonce, "base64")).toHaveLength(16);
    }
  });
});

describe("baselineHeaders", () => {
  it("forbids framing and sniffing and limits referrers and features", () => {
    const headers = baselineHeaders("http://localhost:3000");
    expect(headers["X-Frame-Options"]).toBe("DENY");
    expect(headers["X-Content-Type-Options"]).toBe("nosniff");
    expect(headers["Referrer-Policy"]).toBe("strict-origin-when-cross-origin");
    expect(headers["Cross-Origin-Opener-Policy"]).toBe("same-origin");
    expect(headers["Permissions-Policy"]).toBe(permissionsPolicy);
    for (const feature of ["camera", "microphone", "geolocation", "payment", "usb"]) {
      expect(permissionsPolicy).toContain(`${feature}=()`);
    }
  });

  it("sends HSTS only for an https site", () => {
    expect(baselineHeaders("http://localhost:3000")["Strict-Transport-Security"]).toBeUndefined();
    expect(baselineHeaders("https://plauder.example")["Strict-Transport-Security"]).toMatch(/^max-age=\d{8,}/);
  });
});
