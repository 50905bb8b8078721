"use client";

import type { Broadcast, PresentUser } from "@plauder/api";
import { percentile } from "@plauder/runtime/stats";
import { type FormEvent, useEffect, useId, useMemo, useRef, useState } from "react";
import { FormError } from "~/components/form-error";
import { QuietLabelInput } from "~/components/quiet-label-input";
import { errorMessage } from "~/lib/error-message";
import type { ConnectionStatus, RealtimeConnection } from "~/realtime/connection";
import { api } from "~/trpc/react";
import { maxTextLength } from "./limits";
import type { LogKind } from "./message-log";
import { PeopleList } from "./people-list";
import { RttChart } from "./rtt-chart";
import { formatMs, formatTime } from "./stats";

export type AddLog = (kind: LogKind, text: string) => void;

/** What the ping and echo panels need: the connection to call through, whether it is up, and the log. */
type ProbeProps = { connection: RealtimeConnection; online: boolean; addLog: AddLog };

export function ConnectionPanel({ status, user }: { status: ConnectionStatus | null; user: { name: string } }) {
  const rows: Array<[string, string]> = [
    ["Connection", status?.connectionId ?? "–"],
    ["Instance", status?.instanceId ?? "–"],
    ["User", user.name],
    ["Connected since", status?.connectedSince ? formatTime(status.connectedSince) : "–"],
    ["Reconnect attempts", status ? `${status.attempt} now · ${status.reconnects} reconnects` : "–"],
    [
      "Last heartbeat",
      status?.lastHeartbeat ? `${formatTime(status.lastHeartbeat)} (${formatMs(status.lastHeartbeatRtt)})` : "–",
    ],
  ];
  return (
    <section className="panel" aria-labelledby="info-heading">
      <h2 id="info-heading">Connection</h2>
      <dl className="info" data-testid="connection-info">
        {rows.map(([label, value]) => (
          <div key={label}>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

export function PingPanel({ connection, online, addLog }: ProbeProps) {
  const [samples, setSamples] = useState<number[]>([]);
  const [continuous, setContinuous] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const inFlight = useRef(false);

  const ping = () => {
    if (inFlight.current) return;
    inFlight.current = true;
    const started = performance.now();
    addLog("sent", "ping");
    const subscription = connection.api.realtime.ping.subscribe(
      { clientTime: Date.now() },
      {
        onData: (pong) => {
          const rtt = performance.now() - started;
          setSamples((previous) => [...previous.slice(-59), rtt]);
          setError(null);
          addLog("received", `pong from ${pong.instanceId} in ${formatMs(rtt)}`);
        },
        onError: (cause) => {
          setError(errorMessage(cause));
          subscription.unsubscribe();
          inFlight.current = false;
        },
        onComplete: () => {
          inFlight.current = false;
        },
      },
    );
  };
  const pingRef = useRef(ping);
  pingRef.current = ping;

  useEffect(() => {
    if (!continuous || !online) return;
    const timer = setInterval(() => pingRef.current(), 1_000);
    return () => clearInterval(timer);
  }, [continuous, online]);

  const last = samples.at(-1) ?? null;
  return (
    <section className="panel" aria-labelledby="ping-heading">
      <h2 id="ping-heading">Ping</h2>
      <div className="row">
        <button type="button" className="button" onClick={ping} disabled={!online}>
          Ping
        </button>
        <label className="toggle">
          <input type="checkbox" checked={continuous} onChange={(event) => setContinuous(event.target.checked)} />
          Continuous (1/s)
        </label>
      </div>
      <p className="metric">
        <span>Last RTT</span> <strong data-testid="last-rtt">{formatMs(last)}</strong>
        <span>p50</span> <strong>{formatMs(percentile(samples, 50))}</strong>
        <span>p99</span> <strong>{formatMs(percentile(samples, 99))}</strong>
      </p>
      <RttChart samples={samples} />
      <FormError message={error} />
    </section>
  );
}

export function EchoPanel({ connection, online, addLog }: ProbeProps) {
  const [text, setText] = useState("Hallo, wie geht's?");
  const [echoed, setEchoed] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const inputId = useId();

  const send = (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    addLog("sent", `echo: ${text.slice(0, 80)}${text.length > 80 ? "…" : ""}`);
    const subscription = connection.api.realtime.echo.subscribe(
      { text },
      {
        onData: (reply) => {
          setEchoed(reply.text);
          addLog("received", `echo from ${reply.instanceId}: ${reply.text.slice(0, 80)}`);
        },
        onError: (cause) => {
          setError(errorMessage(cause));
          addLog("system", `echo refused: ${errorMessage(cause)}`);
          subscription.unsubscribe();
        },
      },
    );
  };

  const tooLong = text.length > maxTextLength;
  return (
    <section className="panel" aria-labelledby="echo-heading">
      <h2 id="echo-heading">Echo</h2>
      <form onSubmit={send} className="stack-sm">
        <label htmlFor={inputId}>Text to echo</label>
        <textarea
          id={inputId}
          className="input"
          rows={2}
          value={text}
          onChange={(event) => setText(event.target.value)}
          aria-describedby={`${inputId}-count`}
        />
        <div className="row row-between">
          <span id={`${inputId}-count`} className={tooLong ? "count count-over" : "count"}>
            {text.length} / {maxTextLength}
          </span>
          <button type="submit" className="button" disabled={!online || text.length === 0}>
            Echo
          </button>
        </div>
      </form>
      {echoed !== null && (
        <p className="echoed" data-testid="echo-result">
          {echoed}
        </p>
      )}
      <FormError message={error} />
    </section>
  );
}

export type ShownBroadcast = Broadcast & { receivedAt: number };

export function BroadcastPanel({
  online,
  broadcasts,
  lastIdRef,
  onBroadcast,
  addLog,
}: {
  online: boolean;
  broadcasts: ShownBroadcast[];
  lastIdRef: React.RefObject<string | null>;
  onBroadcast: (broadcast: Broadcast) => void;
  addLog: AddLog;
}) {
  const [text, setText] = useState("");
  const [error, setError] = useState<string | null>(null);
  // Read once per mount: after a manual reconnect the panel remounts and resumes from here.
  const input = useMemo(() => ({ lastEventId: lastIdRef.current }), [lastIdRef]);
  api.realtime.broadcast.useSubscription(input, {
    enabled: online,
    onData: (event) => {
      lastIdRef.current = event.id;
      onBroadcast(event.data);
    },
    onError: (cause) => addLog("system", `broadcast subscription: ${errorMessage(cause)}`),
  });
  const publish = api.realtime.publish.useMutation({
    onSuccess: (ack) => addLog("sent", `broadcast #${ack.id}`),
    onError: (cause) => setError(errorMessage(cause)),
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!text.trim()) return;
    setError(null);
    publish.mutate({ text }, { onSuccess: () => setText("") });
  };

  return (
    <section className="panel panel-tall" aria-labelledby="broadcast-heading">
      <h2 id="broadcast-heading">Broadcasts</h2>
      <ol className="broadcasts" data-testid="broadcasts">
        {broadcasts.length === 0 && <li className="muted">No broadcasts yet. Say hello!</li>}
        {broadcasts.map((b) => (
          <li key={`${b.id}-${b.receivedAt}`} className="broadcast" data-broadcast-id={b.id}>
            <div className="broadcast-meta">
              <strong>{b.sender.name}</strong>
              <time dateTime={new Date(b.sentAt).toISOString()}>{formatTime(b.sentAt)}</time>
              <span className="muted">
                #{b.id} · {b.instanceId}
              </span>
              {b.replayed && <span className="tag">replayed</span>}
            </div>
            <p className="broadcast-text">{b.text}</p>
          </li>
        ))}
      </ol>
      <form onSubmit={submit} className="row">
        <QuietLabelInput
          label="Broadcast message"
          className="input grow"
          placeholder="Message everyone…"
          value={text}
          maxLength={maxTextLength}
          onChange={(event) => setText(event.target.value)}
        />
        <button type="submit" className="button" disabled={!online || publish.isPending || !text.trim()}>
          Send
        </button>
      </form>
      <FormError message={error} />
    </section>
  );
}

export function PresencePanel({ online, me }: { online: boolean; me: string }) {
  const [people, setPeople] = useState<Map<string, PresentUser>>(new Map());
  api.realtime.presence.useSubscription(undefined, {
    enabled: online,
    onData: (event) => {
      setPeople((previous) => {
        if (event.type === "snapshot") return new Map(event.users.map((user) => [user.id, user]));
        const next = new Map(previous);
        if (event.type === "join") next.set(event.user.id, event.user);
        else next.delete(event.user.id);
        return next;
      });
    },
  });
  const sorted = [...people.values()].sort((a, b) => a.name.localeCompare(b.name));
  return (
    <section className="panel" aria-labelledby="presence-heading">
      <h2 id="presence-heading">
        Online <span className="count-pill">{sorted.length}</span>
      </h2>
      <PeopleList people={sorted} me={me} className="presence" testId="presence" />
    </section>
  );
}
