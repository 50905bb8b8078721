// Preloaded into every benchmarked server (node --expose-gc --require): answers the orchestrator's
// "measure" message with memory after a full collection, so all three systems are measured alike.
process.on("message", (message) => {
  if (message?.type !== "measure") return;
  global.gc?.();
  global.gc?.();
  const usage = process.memoryUsage();
  process.send?.({ type: "memory", rss: usage.rss, heapUsed: usage.heapUsed });
});
