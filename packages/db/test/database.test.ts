import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DatabaseHandle, DatabaseInUseError, lockDataDir, openDatabase, users } from "../src/index";
import { migrateDatabase } from "../src/migrate";
import { createTestPostgres } from "../src/testing";

type Backend = { name: string; open(): Promise<DatabaseHandle>; cleanup(): Promise<void> };

let dropPostgres: () => Promise<void> = async () => {};
const backends: Backend[] = [
  {
    name: "pglite (memory)",
    open: async () => openDatabase({ kind: "pglite", dataDir: "memory://" }),
    cleanup: async () => {},
  },
  {
    name: "postgres",
    open: async () => {
      const { url, drop } = await createTestPostgres();
      dropPostgres = drop;
      return openDatabase({ kind: "postgres", url });
    },
    cleanup: async () => dropPostgres(),
  },
];

describe.each(backends)("database on $name", (backend) => {
  let handle: DatabaseHandle;

  beforeAll(async () => {
    handle = await backend.open();
    await migrateDatabase(handle);
  });
  afterAll(async () => {
    await handle.close();
    await backend.cleanup();
  });

  it("applies migrations idempotently and answers a ping", async () => {
    await migrateDatabase(handle);
    await expect(handle.ping()).resolves.toBeUndefined();
  });

  it("stores a user with a generated id and creation time", async () => {
    const [user] = await handle.db
      .insert(users)
      .values({ email: "anna@example.com", name: "Anna", passwordHash: "x" })
      .returning();
    expect(user?.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(user?.createdAt).toBeInstanceOf(Date);
    const found = await handle.db.select().from(users).where(eq(users.email, "anna@example.com"));
    expect(found).toHaveLength(1);
  });

  it("refuses a second user with the same email", async () => {
    await expect(
      handle.db.insert(users).values({ email: "anna@example.com", name: "Other", passwordHash: "x" }),
    ).rejects.toThrow();
  });

  it("refuses an email that is not lower-cased", async () => {
    await expect(
      handle.db.insert(users).values({ email: "Bert@Example.com", name: "Bert", passwordHash: "x" }),
    ).rejects.toThrow();
  });
});

describe("postgres migrations from concurrent starts", () => {
  it("lets several instances migrate one database at once", async () => {
    const { url, drop } = await createTestPostgres();
    const handles = [1, 2, 3].map(() => openDatabase({ kind: "postgres", url, poolSize: 2 }));
    try {
      await Promise.all(handles.map((h) => migrateDatabase(h)));
      const [first] = handles;
      await first?.db.insert(users).values({ email: "c@example.com", name: "C", passwordHash: "x" });
      expect(await first?.db.select().from(users)).toHaveLength(1);
    } finally {
      await Promise.all(handles.map((h) => h.close()));
      await drop();
    }
  });
});

describe("embedded database directory lock", () => {
  const dir = mkdtempSync(join(tmpdir(), "plauder-pglite-"));

  it("refuses a second opener in this process with a clear error", () => {
    const release = lockDataDir(join(dir, "a"));
    try {
      expect(() => lockDataDir(join(dir, "a"))).toThrow(DatabaseInUseError);
    } finally {
      release();
    }
    // Released: the next opener gets it.
    lockDataDir(join(dir, "a"))();
  });

  it("takes over a lock left by a process that died", () => {
    writeFileSync(join(dir, "b.lock"), "999999999");
    const release = lockDataDir(join(dir, "b"));
    try {
      // The lock is this process's now: it names us, and a second opener is refused.
      expect(readFileSync(join(dir, "b.lock"), "utf8")).toBe(String(process.pid));
      expect(() => lockDataDir(join(dir, "b"))).toThrow(DatabaseInUseError);
    } finally {
      release();
    }
    expect(existsSync(join(dir, "b.lock"))).toBe(false);
  });

  it("makes a second process fail with a message naming the first", async () => {
    const dataDir = join(dir, "shared");
    const first = openDatabase({ kind: "pglite", dataDir });
    try {
      await migrateDatabase(first);
      const script = `import { openDatabase } from ${JSON.stringify(new URL("../src/index.ts", import.meta.url).pathname)};
try { openDatabase({ kind: "pglite", dataDir: ${JSON.stringify(dataDir)} }); console.log("opened"); }
catch (error) { console.log(error.message); process.exit(3); }`;
      const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
        encoding: "utf8",
        timeout: 60_000,
      });
      expect(child.status).toBe(3);
      expect(child.stdout).toContain(`already open in process ${process.pid}`);
    } finally {
      await first.close();
    }
  });
});
