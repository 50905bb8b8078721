import { describe, expect, it } from "vitest";
import { ProviderStreamError } from "../src";
import { splitLines, sseEvents } from "../src/http";

async function* pieces(...parts: string[]): AsyncGenerator<string> {
  for (const part of parts) yield part;
}

async function all<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

describe("reading streamed lines and events", () => {
  it("splits lines that arrive cut anywhere, with \\n or \\r\\n, and keeps a last line without a newline", async () => {
    const lines = await all(splitLines("ollama", pieces('{"a":', '1}\n{"b"', ":2}\r\n\n", '{"c":3}')));
    expect(lines).toEqual(['{"a":1}', '{"b":2}', "", '{"c":3}']);
  });

  it("refuses a line that never ends", async () => {
    const huge = "x".repeat(600_000);
    await expect(all(splitLines("ollama", pieces(huge, huge)))).rejects.toBeInstanceOf(ProviderStreamError);
  });

  it("reads SSE data events, joins multi-line data, skips comments and other fields, and keeps llama.cpp's error field", async () => {
    const lines = pieces(
      ": keep-alive",
      "event: message",
      'data: {"a":',
      "data: 1}",
      "",
      "id: 7",
      "data:[DONE]",
      "",
      'error: {"message":"x"}',
      "",
    );
    const events = await all(sseEvents(lines));
    expect(events).toEqual([
      { field: "data", data: '{"a":\n1}' },
      { field: "data", data: "[DONE]" },
      { field: "error", data: '{"message":"x"}' },
    ]);
  });
});
