"use client";

import { type FormEvent, type KeyboardEvent, type RefObject, useState } from "react";

/**
 * Where the learner writes: Enter sends, Shift+Enter starts a new line. While an answer is under
 * way sending waits and Stop takes the Send button's place (typing the next message goes on).
 */
export function Composer({
  maxLength,
  busy,
  blocked,
  sending,
  stopping,
  onSend,
  onStop,
  field,
}: {
  maxLength: number;
  /** An answer is under way: Stop instead of Send. */
  busy: boolean;
  /** Why nothing can be sent now (no model, offline), if so. */
  blocked: string | null;
  sending: boolean;
  stopping: boolean;
  onSend: (text: string) => Promise<boolean>;
  onStop: () => void;
  field: RefObject<HTMLTextAreaElement | null>;
}) {
  const [text, setText] = useState("");
  const length = text.trim().length;
  const over = text.length > maxLength;
  const canSend = length > 0 && !over && !busy && !blocked && !sending;

  const send = async (event?: FormEvent) => {
    event?.preventDefault();
    if (!canSend) return;
    if (await onSend(text.trim())) setText("");
  };
  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      void send();
    }
  };
  const hint = blocked ?? (busy ? "The tutor is answering; you can write your next message meanwhile." : null);
  return (
    <form className="composer" onSubmit={(event) => void send(event)} aria-label="Write to the tutor">
      <label htmlFor="composer-text" className="sr-only">
        Your message (in German)
      </label>
      <textarea
        id="composer-text"
        ref={field}
        className="input composer-text"
        lang="de"
        rows={2}
        placeholder="Schreib auf Deutsch… (Enter sends, Shift+Enter: new line)"
        value={text}
        aria-invalid={over || undefined}
        aria-describedby="composer-count composer-hint"
        onChange={(event) => setText(event.target.value)}
        onKeyDown={onKeyDown}
      />
      <div className="composer-bar">
        <span id="composer-count" className={`count${over ? " count-over" : ""}`}>
          {text.length} / {maxLength}
          <span className="sr-only"> characters</span>
        </span>
        <span id="composer-hint" className="composer-hint">
          {over ? `Too long: at most ${maxLength} characters.` : hint}
        </span>
        {busy ? (
          <button type="button" className="button button-danger" onClick={onStop} disabled={stopping}>
            <span aria-hidden="true">■ </span>
            {stopping ? "Stopping…" : "Stop"}
          </button>
        ) : (
          <button type="submit" className="button" disabled={!canSend} aria-disabled={!canSend}>
            {sending ? "Sending…" : "Send"}
          </button>
        )}
      </div>
    </form>
  );
}
