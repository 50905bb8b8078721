import { describe, expect, it } from "vitest";
import { safeRedirectPath } from "../../src/lib/safe-redirect";

const fallback = "/test-websocket";

describe("safeRedirectPath", () => {
  it.each([
    ["/test-websocket", "/test-websocket"],
    ["/", "/"],
    ["/register?callbackUrl=%2Ftest-websocket", "/register?callbackUrl=%2Ftest-websocket"],
    ["/test-websocket#log", "/test-websocket#log"],
    ["/a/../test-websocket", "/test-websocket"],
    ["/search?q=a%20b", "/search?q=a%20b"],
  ])("keeps the same-site path %j", (input, expected) => {
    expect(safeRedirectPath(input)).toBe(expected);
  });

  it.each([
    // What a browser turns into `//evil.example` by dropping tabs and newlines.
    ["tab", "/\t/evil.example"],
    ["newline", "/\n/evil.example"],
    ["carriage return", "/\r/evil.example"],
    ["tab first", "\t//evil.example"],
    ["leading space", " /evil"],
    ["space inside", "/ /evil.example"],
    ["NUL", "/\u0000/evil.example"],
    ["DEL", "/\u007f/evil.example"],
    ["C1 control", "/\u0085/evil.example"],
    ["no-break space", "/\u00a0/evil.example"],
    ["line separator", "/\u2028/evil.example"],
    ["zero-width space", "/\u200b/evil.example"],
    ["byte order mark", "\ufeff//evil.example"],
    // Backslashes: browsers read them as slashes in http(s) URLs.
    ["slash backslash", "/\\evil.example"],
    ["backslash slash", "\\/evil.example"],
    ["two backslashes", "\\\\evil.example"],
    ["backslash later", "/ok/\\..\\evil"],
    // Other hosts and schemes.
    ["protocol-relative", "//evil.example"],
    ["three slashes", "///evil.example"],
    ["absolute http", "http://evil.example/"],
    ["absolute https", "https://evil.example/"],
    ["scheme without slashes", "https:evil.example"],
    ["javascript", "javascript:alert(1)"],
    ["data", "data:text/html,<script>alert(1)</script>"],
    ["relative", "evil.example"],
    ["dot relative", "./evil"],
    ["empty", ""],
    // Encoded forms that a later decoding step could turn into another host.
    ["encoded slashes", "/%2F%2Fevil.example"],
    ["encoded slash after slash", "/%2Fevil.example"],
    ["lower-case encoded slash", "/%2fevil.example"],
    ["double-encoded slashes", "/%252F%252Fevil.example"],
    ["triple-encoded slashes", "/%25252F%25252Fevil.example"],
    ["encoded backslash", "/%5Cevil.example"],
    ["encoded tab", "/%09/evil.example"],
    ["encoded newline", "/%0A/evil.example"],
    ["encoded NUL", "/%00/evil.example"],
    ["malformed escape", "/%E0%A4%A"],
    // Unicode lookalikes of `/` and `\` and of a dot.
    ["fullwidth solidus", "/\uff0fevil.example"],
    ["division slash", "/\u2215evil.example"],
    ["fraction slash", "/\u2044evil.example"],
    ["big solidus", "/\u29f8evil.example"],
    ["fullwidth reverse solidus", "/\uff3cevil.example"],
    ["fullwidth full stop", "/\uff0e\uff0e/evil"],
  ])("refuses %s", (_label, input) => {
    expect(safeRedirectPath(input)).toBe(fallback);
  });

  it("refuses missing values and takes the first of several", () => {
    expect(safeRedirectPath(undefined)).toBe(fallback);
    expect(safeRedirectPath(null)).toBe(fallback);
    expect(safeRedirectPath([])).toBe(fallback);
    expect(safeRedirectPath(["//evil.example", "/ok"])).toBe(fallback);
    expect(safeRedirectPath(["/ok", "//evil.example"])).toBe("/ok");
  });

  it("refuses overlong values", () => {
    expect(safeRedirectPath(`/${"a".repeat(4096)}`)).toBe(fallback);
  });

  it("uses the given fallback", () => {
    expect(safeRedirectPath("//evil.example", "/")).toBe("/");
  });

  it("never returns anything a browser would resolve to another origin", () => {
    // Whatever comes back, resolved the way a browser would, stays on the page's origin.
    const base = "http://localhost:3000/login";
    const samples = ["/x", "/\t/evil", "/%2F/evil", "/..//evil", "/./%2e%2e//evil", "/a//evil", "/%09/evil"];
    for (const sample of samples) {
      const result = safeRedirectPath(sample);
      const withoutTabs = result.replace(/[\t\n\r]/g, "");
      expect(new URL(withoutTabs, base).origin, sample).toBe("http://localhost:3000");
    }
  });
});
