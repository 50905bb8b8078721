#!/usr/bin/env node
// The CLI is TypeScript like the rest of the workspace; tsx compiles it on the fly.
import { register } from "tsx/esm/api";

register();

const { exitCodes, main } = await import("../src/cli/index.ts");

// `plauder listen --json | head -1` closes the pipe early; that is a normal end, not a crash.
process.stdout.on("error", (error) => {
  if (error.code === "EPIPE") process.exit(exitCodes.ok);
  throw error;
});

const code = await main(process.argv.slice(2));
process.exitCode = code;
// Let the process end on its own, so buffered output is flushed; if a socket or timer still holds
// the event loop, end it anyway shortly after (the unref'd timer does not keep it alive itself).
setTimeout(() => process.exit(code), 1_000).unref();
