"use client";

import { useMemo, useState } from "react";
import { QuietLabelInput } from "~/components/quiet-label-input";
import { formatTime } from "./stats";

export type LogKind = "sent" | "received" | "system";
export type LogEntry = { id: number; at: number; kind: LogKind; text: string };

const kinds: Array<{ value: LogKind | "all"; label: string }> = [
  { value: "all", label: "All" },
  { value: "sent", label: "Sent" },
  { value: "received", label: "Received" },
  { value: "system", label: "System" },
];

/** Everything that happened on the connection, newest first, filterable by kind and text. */
export function MessageLog({ entries, onClear, limit }: { entries: LogEntry[]; onClear: () => void; limit: number }) {
  const [kind, setKind] = useState<LogKind | "all">("all");
  const [query, setQuery] = useState("");
  const visible = useMemo(() => {
    const needle = query.trim().toLowerCase();
    return entries
      .filter(
        (entry) => (kind === "all" || entry.kind === kind) && (!needle || entry.text.toLowerCase().includes(needle)),
      )
      .reverse();
  }, [entries, kind, query]);

  return (
    <section className="panel panel-wide" aria-labelledby="log-heading">
      <div className="panel-head">
        <h2 id="log-heading">Message log</h2>
        <button type="button" className="button button-quiet button-small" onClick={onClear}>
          Clear
        </button>
      </div>
      <div className="log-controls">
        <fieldset className="segmented">
          <legend className="sr-only">Show</legend>
          {kinds.map((option) => (
            <label key={option.value} className={kind === option.value ? "active" : undefined}>
              <input
                type="radio"
                name="log-kind"
                value={option.value}
                checked={kind === option.value}
                onChange={() => setKind(option.value)}
              />
              {option.label}
            </label>
          ))}
        </fieldset>
        <QuietLabelInput
          label="Filter messages"
          type="search"
          placeholder="Filter…"
          value={query}
          onChange={(event) => setQuery(event.target.value)}
        />
      </div>
      <ol className="log" aria-live="off" data-testid="message-log">
        {visible.length === 0 && <li className="muted">Nothing yet.</li>}
        {visible.map((entry) => (
          <li key={entry.id} className={`log-entry log-${entry.kind}`}>
            <time dateTime={new Date(entry.at).toISOString()}>{formatTime(entry.at)}</time>
            <span className="log-kind">{entry.kind}</span>
            <span className="log-text">{entry.text}</span>
          </li>
        ))}
      </ol>
      <p className="field-hint">Keeps the newest {limit} entries.</p>
    </section>
  );
}
