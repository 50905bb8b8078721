import { createServer } from "node:net";

/**
 * A TCP port nobody listens on right now, as the kernel hands it out. Fixed ranges collide with
 * whatever else runs on the machine (a message broker on 4222, say) and fail a run at random.
 * For tests and the benchmark (`@plauder/runtime/testing`).
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => (port ? resolve(port) : reject(new Error("no free port"))));
    });
  });
}
