"use client";

import { type FormEvent, useEffect, useId, useRef, useState } from "react";
import { type ChannelStatus, type LiveChannel, useChannel } from "~/channels/use-channel";
import { FormError } from "~/components/form-error";
import { QuietLabelInput } from "~/components/quiet-label-input";
import { errorMessage } from "~/lib/error-message";
import { ChannelMessages } from "./channel-messages";
import type { RoomEntry } from "./channel-switcher";
import { maxTextLength } from "./limits";
import { MembersOnline } from "./members-online";
import type { AddLog } from "./panels";
import { InviteForm } from "./room-forms";

const statusLabels: Record<ChannelStatus, string> = {
  connecting: "Connecting…",
  reconnecting: "Reconnecting…",
  offline: "Offline",
  loading: "Loading history…",
  live: "Live",
  failed: "Not open",
};

/** The selected channel: who is here, what was said, and a box to say something. */
export function ChannelView({
  channel,
  title,
  room,
  me,
  focusRequest,
  addLog,
}: {
  channel: string;
  title: string;
  /** The room behind the channel, when it is one of the person's rooms. */
  room: RoomEntry | null;
  me: string;
  /** Bumped when the compose box should take the focus (a room was just created). */
  focusRequest: number;
  addLog: AddLog;
}) {
  const view = useChannel(channel);
  const headingId = useId();

  const error = view.error;
  useEffect(() => {
    if (error) addLog("system", `${channel}: ${error}`);
  }, [error, channel, addLog]);

  return (
    <section className="channel-view" aria-labelledby={headingId}>
      <header className="channel-head">
        <div>
          <h3 id={headingId} className="channel-title">
            {title}
            {room && <span className="tag tag-role">{room.role}</span>}
          </h3>
          <code className="channel-id" data-testid="channel-name">
            {channel}
          </code>
        </div>
        <span className={`channel-status channel-status-${view.status}`} data-testid="channel-status">
          {statusLabels[view.status]}
        </span>
      </header>
      <FormError message={error} />
      {view.status === "failed" && view.errorCode !== "FORBIDDEN" && view.errorCode !== "BAD_REQUEST" && (
        <button type="button" className="button button-quiet button-small" onClick={view.retry}>
          Try again
        </button>
      )}
      {view.lost.length > 0 && (
        <p className="field-hint">
          Some {view.lost.join(" and ")} messages could not be replayed after the reconnect; the history was reloaded.
        </p>
      )}
      <MembersOnline channel={channel} me={me} hideError={view.status === "failed"} />
      <ChannelMessages
        title={title}
        publications={view.publications}
        hasOlder={view.hasOlder}
        loadingOlder={view.loadingOlder}
        onLoadOlder={view.loadOlder}
      />
      {/* Keyed by channel: a draft belongs to the channel it was written for. */}
      <Compose
        key={channel}
        title={title}
        publish={view.publish}
        disabled={view.status === "failed" || view.status === "offline"}
        focusRequest={focusRequest}
        addLog={addLog}
      />
      {room?.role === "owner" && <InviteForm key={room.id} room={room} />}
    </section>
  );
}

function Compose({
  title,
  publish,
  disabled,
  focusRequest,
  addLog,
}: {
  title: string;
  publish: LiveChannel["publish"];
  disabled: boolean;
  focusRequest: number;
  addLog: AddLog;
}) {
  const [text, setText] = useState("");
  const [ephemeral, setEphemeral] = useState(false);
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const input = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (focusRequest > 0) input.current?.focus();
  }, [focusRequest]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!text.trim() || pending) return;
    setPending(true);
    setError(null);
    try {
      const ack = await publish(text, { ephemeral });
      addLog("sent", `publication ${ack.id} to ${title}`);
      setText("");
    } catch (cause) {
      setError(errorMessage(cause));
    } finally {
      setPending(false);
    }
  };

  return (
    <form onSubmit={submit} className="stack-sm compose">
      <div className="row">
        <QuietLabelInput
          ref={input}
          label={`Message to ${title}`}
          className="input grow"
          placeholder={`Write to ${title}…`}
          value={text}
          maxLength={maxTextLength}
          onChange={(event) => setText(event.target.value)}
        />
        <button type="submit" className="button" disabled={disabled || pending || !text.trim()}>
          Publish
        </button>
      </div>
      <label className="toggle">
        <input type="checkbox" checked={ephemeral} onChange={(event) => setEphemeral(event.target.checked)} />
        Ephemeral (not stored)
      </label>
      <FormError message={error} />
    </form>
  );
}
