import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "@plauder/runtime/testing";

const shippedConfig = join(dirname(fileURLToPath(import.meta.url)), "../../../../../deploy/nginx.conf");

function nginxBinary(): string {
  for (const candidate of ["/usr/sbin/nginx", "/usr/bin/nginx"]) if (existsSync(candidate)) return candidate;
  try {
    return execFileSync("which", ["nginx"], { encoding: "utf8" }).trim();
  } catch {
    throw new Error("nginx is not installed (Debian: apt-get install nginx); the proxy tests need it");
  }
}

export type Nginx = { url: string; port: number; stop(): Promise<void> };

/**
 * Runs the shipped load-balancer configuration (deploy/nginx.conf, as docker-compose.yml mounts it)
 * in front of local instances: only its upstream servers and listen address are rewritten, so every
 * header it sets is the one production gets. One process, no daemon, files in a temp directory.
 */
export async function startShippedNginx(upstreamPorts: readonly number[]): Promise<Nginx> {
  const shipped = readFileSync(shippedConfig, "utf8");
  const port = await freePort();
  const upstream = /upstream plauder \{[^}]*\}/;
  const listen = /listen 80;/;
  if (!upstream.test(shipped) || !listen.test(shipped)) {
    throw new Error("deploy/nginx.conf changed shape: update the proxy test's rewrite");
  }
  const site = shipped
    .replace(upstream, `upstream plauder {\n${upstreamPorts.map((p) => `  server 127.0.0.1:${p};`).join("\n")}\n}`)
    .replace(listen, `listen 127.0.0.1:${port};`);
  const dir = mkdtempSync(join(tmpdir(), "plauder-nginx-"));
  for (const temp of ["body", "proxy", "fastcgi", "uwsgi", "scgi"]) mkdirSync(join(dir, temp));
  const config = `
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${site}
}
`;
  writeFileSync(join(dir, "nginx.conf"), config);
  const child: ChildProcess = spawn(
    nginxBinary(),
    ["-p", dir, "-c", join(dir, "nginx.conf"), "-e", join(dir, "error.log")],
    {
      stdio: "pipe",
    },
  );
  let output = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${output}`);
    const up = await fetch(`${url}/api/health`).then(
      (r) => r.status < 500,
      () => false,
    );
    if (up) break;
    if (Date.now() > deadline) throw new Error(`nginx did not come up: ${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    port,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
  };
}
