import { describe, expect, it } from "vitest";
import { closeProcessSingleton, processSingleton } from "../src/singleton";

describe("closeProcessSingleton", () => {
  it("takes the value off the process, then closes it", async () => {
    const closed: string[] = [];
    processSingleton("test.closable", () => "first");
    await closeProcessSingleton<string>("test.closable", (value) => {
      closed.push(value);
    });
    expect(closed).toEqual(["first"]);
    expect(processSingleton("test.closable", () => "second")).toBe("second");
    await closeProcessSingleton("test.closable", () => {});
  });

  it("never creates a value just to close it", async () => {
    let calls = 0;
    await closeProcessSingleton("test.never-opened", () => {
      calls += 1;
    });
    expect(calls).toBe(0);
  });
});
