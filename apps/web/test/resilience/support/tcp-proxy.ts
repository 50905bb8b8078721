import { createConnection, createServer, type Server, type Socket } from "node:net";

/**
 * A TCP load balancer in front of server instances, standing in for the documented nginx setup
 * (deploy/nginx.conf): each new connection goes to the next backend that accepts it, so when an
 * instance dies its clients' reconnects land on one that lives. It can also cut every link
 * silently, as a dead network does: no FIN, no RST, no close frame, bytes simply stop.
 */
export type TcpProxy = {
  port: number;
  url: string;
  /** Which backend port each open link goes to. */
  links(): number[];
  /** Stops forwarding on every open link without closing either side. */
  blackhole(): void;
  close(): Promise<void>;
};

type Link = { client: Socket; backend: Socket; port: number };

function connectTo(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.off("error", reject);
      resolve(socket);
    });
    socket.once("error", reject);
  });
}

export async function startTcpProxy(backends: number[]): Promise<TcpProxy> {
  const open = new Set<Link>();
  // Links cut by blackhole(): still open at both ends, destroyed only when the proxy closes.
  const silenced = new Set<Link>();
  let next = 0;
  const server: Server = createServer(async (client) => {
    client.pause();
    client.on("error", () => client.destroy());
    for (let tried = 0; tried < backends.length; tried++) {
      const port = backends[next++ % backends.length] as number;
      try {
        const backend = await connectTo(port);
        const link = { client, backend, port };
        open.add(link);
        backend.on("error", () => backend.destroy());
        client.pipe(backend);
        backend.pipe(client);
        const forget = () => {
          open.delete(link);
          client.destroy();
          backend.destroy();
        };
        client.once("close", forget);
        backend.once("close", forget);
        client.resume();
        return;
      } catch {
        // That instance is down: try the next, as a load balancer's passive health check does.
      }
    }
    client.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    links: () => [...open].map((l) => l.port),
    blackhole() {
      for (const link of open) {
        const { client, backend } = link;
        silenced.add(link);
        client.unpipe(backend);
        backend.unpipe(client);
        // Keep reading and dropping, so neither kernel buffer fills and signals anything.
        client.removeAllListeners("data");
        backend.removeAllListeners("data");
        client.on("data", () => {});
        backend.on("data", () => {});
        client.removeAllListeners("close");
        backend.removeAllListeners("close");
      }
      open.clear();
    },
    async close() {
      for (const { client, backend } of [...open, ...silenced]) {
        client.destroy();
        backend.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
