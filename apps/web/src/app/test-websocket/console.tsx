"use client";

import type { Broadcast } from "@plauder/api";
import { useCallback, useEffect, useRef, useState } from "react";
import { useRealtimeConnection, useRealtimeStatus } from "~/realtime/context";
import { statusLabel } from "~/realtime/status-label";
import { useNow } from "~/realtime/use-now";
import { ChannelsPanel } from "./channels-panel";
import { type LogEntry, type LogKind, MessageLog } from "./message-log";
import { BroadcastPanel, ConnectionPanel, EchoPanel, PingPanel, PresencePanel, type ShownBroadcast } from "./panels";
import { capped } from "./stats";

const logLimit = 500;
const broadcastLimit = 200;

/** The realtime console: try, watch and trust the live connection. */
export function RealtimeConsole({ user }: { user: { id: string; name: string } }) {
  const connection = useRealtimeConnection();
  const status = useRealtimeStatus();
  const now = useNow(status?.state === "reconnecting");
  const [log, setLog] = useState<LogEntry[]>([]);
  const [broadcasts, setBroadcasts] = useState<ShownBroadcast[]>([]);
  const lastBroadcastId = useRef<string | null>(null);
  const nextLogId = useRef(0);

  const addLog = useCallback((kind: LogKind, text: string) => {
    nextLogId.current += 1;
    const entry = { id: nextLogId.current, at: Date.now(), kind, text };
    setLog((previous) => capped(previous, entry, logLimit));
  }, []);

  const onBroadcast = useCallback(
    (broadcast: Broadcast) => {
      setBroadcasts((previous) => capped(previous, { ...broadcast, receivedAt: Date.now() }, broadcastLimit));
      addLog(
        "received",
        `${broadcast.replayed ? "replayed " : ""}broadcast #${broadcast.id} from ${broadcast.sender.name}`,
      );
    },
    [addLog],
  );

  const state = status?.state;
  const instanceId = status?.instanceId;
  useEffect(() => {
    if (!state) return;
    addLog("system", state === "connected" && instanceId ? `connected to ${instanceId}` : `connection ${state}`);
  }, [state, instanceId, addLog]);

  if (!connection || !status) return null;
  const online = status.state !== "offline";
  const connected = status.state === "connected";
  return (
    <div className="console">
      <header className="console-head">
        <div>
          <p className="eyebrow">Realtime</p>
          <h1>Realtime console</h1>
        </div>
        <div className="console-actions">
          <span className={`status status-${status.state}`} data-testid="console-status">
            {statusLabel(status, now)}
          </span>
          {online ? (
            <button type="button" className="button button-quiet" onClick={() => connection.disconnect()}>
              Disconnect
            </button>
          ) : (
            <button type="button" className="button" onClick={() => connection.connect()}>
              {status.manual ? "Connect" : "Reconnect"}
            </button>
          )}
        </div>
      </header>
      {status.state === "offline" && !status.manual && (
        <p className="banner" role="status">
          Offline: the server did not answer after several attempts. Check your connection, then reconnect.
        </p>
      )}
      <ChannelsPanel me={user} addLog={addLog} />
      <div className="console-grid">
        <div className="console-column">
          <ConnectionPanel status={status} user={user} />
          <PingPanel connection={connection} online={connected} addLog={addLog} />
          <EchoPanel connection={connection} online={connected} addLog={addLog} />
        </div>
        <div className="console-column">
          {/* Keyed by generation: a manual reconnect resubscribes from the last broadcast seen. */}
          <BroadcastPanel
            key={`b${status.generation}`}
            online={online}
            broadcasts={broadcasts}
            lastIdRef={lastBroadcastId}
            onBroadcast={onBroadcast}
            addLog={addLog}
          />
          <PresencePanel key={`p${status.generation}`} online={online} me={user.id} />
        </div>
      </div>
      <MessageLog entries={log} onClear={() => setLog([])} limit={logLimit} />
    </div>
  );
}
