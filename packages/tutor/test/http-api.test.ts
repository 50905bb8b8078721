import { describe, expect, it } from "vitest";
import { ProviderStreamError, ProviderUnavailableError } from "../src";
import { HttpApi } from "../src/http";

function api(kind: "ollama" | "openai"): HttpApi {
  return new HttpApi({
    kind,
    baseUrl: "http://127.0.0.1:9/v1//",
    startHint: "Start it.",
    errorFor: (status, body) => new ProviderUnavailableError(kind, `${status} ${body}`),
  });
}

describe("what the HTTP providers share", () => {
  it("drops trailing slashes from the base URL", () => {
    expect(api("openai").baseUrl).toBe("http://127.0.0.1:9/v1");
  });

  it("words the errors of a streamed reply with the provider's name and the unit it streams in", () => {
    const ollama = api("ollama");
    const openai = api("openai");
    expect(() => ollama.streamedJson("line", "{oops")).toThrow(
      new ProviderStreamError("ollama", "Ollama sent a line that is not JSON: {oops"),
    );
    expect(ollama.streamedJson("line", '{"a":1}')).toEqual({ a: 1 });
    expect(openai.unexpectedShape("event", '{"b":2}').message).toBe(
      'The OpenAI-compatible server sent an event of an unexpected shape: {"b":2}',
    );
    expect(ollama.stoppedWithError("out of memory").message).toBe("Ollama stopped with an error: out of memory");
    expect(openai.endedBefore("data: [DONE]").message).toBe(
      "The OpenAI-compatible server's reply ended before data: [DONE]",
    );
    expect(ollama.endedBefore("its final line")).toBeInstanceOf(ProviderStreamError);
  });

  it("reports health from a probe: what it says and how long it took, or why it failed", async () => {
    const ollama = api("ollama");
    const up = await ollama.health(async () => "Ollama 0.9 here");
    expect(up).toMatchObject({ ok: true, kind: "ollama", detail: "Ollama 0.9 here" });
    const down = await ollama.health(async () => {
      throw new ProviderUnavailableError("ollama", "Ollama is not answering. Start it.");
    });
    expect(down).toEqual({ ok: false, kind: "ollama", reason: "Ollama is not answering. Start it." });
  });
});
