import { readFileSync } from "node:fs";

type Snapshot = {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
};

/** Self size and count per kind of heap object ("object: ChannelMember", "closure: deliver", …). */
export function heapByKind(path: string): Map<string, { count: number; bytes: number }> {
  const data = JSON.parse(readFileSync(path, "utf8")) as Snapshot;
  const fields = data.snapshot.meta.node_fields;
  const types = data.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf("type");
  const nameAt = fields.indexOf("name");
  const sizeAt = fields.indexOf("self_size");
  const kinds = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < data.nodes.length; i += width) {
    const type = types[data.nodes[i + typeAt] as number] ?? "?";
    const rawName = data.strings[data.nodes[i + nameAt] as number] ?? "";
    // Strings and numbers are named by their contents: one bucket each.
    const name = type === "string" || type === "number" || type === "concatenated string" ? "" : rawName.slice(0, 60);
    const key = name ? `${type}: ${name}` : type;
    const entry = kinds.get(key) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += data.nodes[i + sizeAt] as number;
    kinds.set(key, entry);
  }
  return kinds;
}

export type HeapGrowth = { kind: string; countPerSubscription: number; bytesPerSubscription: number }[];

/** What grew between two snapshots, per subscription, largest first. */
export function heapGrowth(beforePath: string, afterPath: string, subscriptions: number, top = 20): HeapGrowth {
  const before = heapByKind(beforePath);
  const after = heapByKind(afterPath);
  const rows: HeapGrowth = [];
  for (const [kind, value] of after) {
    const was = before.get(kind) ?? { count: 0, bytes: 0 };
    const bytes = value.bytes - was.bytes;
    if (bytes <= 0) continue;
    rows.push({
      kind,
      countPerSubscription: (value.count - was.count) / subscriptions,
      bytesPerSubscription: bytes / subscriptions,
    });
  }
  return rows.sort((a, b) => b.bytesPerSubscription - a.bytesPerSubscription).slice(0, top);
}
