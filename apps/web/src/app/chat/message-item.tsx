"use client";

import { type FormEvent, type KeyboardEvent, useEffect, useRef, useState } from "react";
import type { ChatMessage } from "~/chat/conversation-state";
import { CorrectionView } from "./correction-view";
import { TutorMarkdown } from "./markdown";

function AnswerStatus({ message }: { message: ChatMessage }) {
  switch (message.status) {
    case "queued":
      return (
        <p className="message-status status-queued" data-testid="answer-status">
          {message.place ? `Waiting: place ${message.place} in line` : "Waiting for the tutor…"}
        </p>
      );
    case "streaming":
      return (
        <p className="message-status status-streaming" data-testid="answer-status">
          <span className="typing-dots" aria-hidden="true" />
          schreibt…
        </p>
      );
    case "stopped":
      return (
        <p className="message-status status-stopped" data-testid="answer-status">
          Stopped
        </p>
      );
    case "failed":
      return (
        <p className="message-status status-failed" data-testid="answer-status">
          Failed{message.error ? `: ${message.error}` : ""}
        </p>
      );
    default:
      return null;
  }
}

export function TutorMessage({
  message,
  canRegenerate,
  onRegenerate,
}: {
  message: ChatMessage;
  canRegenerate: boolean;
  onRegenerate?: () => void;
}) {
  const streaming = message.status === "streaming";
  return (
    <li
      className={`message message-tutor message-${message.status}`}
      data-testid="tutor-message"
      data-status={message.status}
    >
      <article aria-label="Tutor" aria-busy={streaming || message.status === "queued"}>
        <p className="message-author" aria-hidden="true">
          Tutor
        </p>
        <div className="bubble bubble-tutor" lang="de">
          {message.content ? (
            <div className={`markdown${streaming ? " is-streaming" : ""}`} data-testid="answer-text">
              <TutorMarkdown text={message.content} />
            </div>
          ) : null}
          <AnswerStatus message={message} />
        </div>
        {onRegenerate && (
          <div className="message-actions">
            <button type="button" className="link-button" onClick={onRegenerate} disabled={!canRegenerate}>
              <span aria-hidden="true">↻ </span>Regenerate
            </button>
          </div>
        )}
      </article>
    </li>
  );
}

export function LearnerMessage({
  message,
  maxLength,
  canEdit,
  onEdit,
}: {
  message: ChatMessage;
  maxLength: number;
  canEdit: boolean;
  onEdit: (text: string) => Promise<boolean>;
}) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(message.content);
  const [saving, setSaving] = useState(false);
  const field = useRef<HTMLTextAreaElement>(null);
  const editButton = useRef<HTMLButtonElement>(null);
  const returnFocus = useRef(false);

  useEffect(() => {
    if (editing) {
      field.current?.focus();
      field.current?.select();
    } else if (returnFocus.current) {
      returnFocus.current = false;
      editButton.current?.focus();
    }
  }, [editing]);

  const close = () => {
    returnFocus.current = true;
    setEditing(false);
  };
  const save = async (event?: FormEvent) => {
    event?.preventDefault();
    const text = draft.trim();
    if (!text || text.length > maxLength || saving) return;
    if (text === message.content) return close();
    setSaving(true);
    const ok = await onEdit(text);
    setSaving(false);
    if (ok) setEditing(false);
  };
  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === "Escape") {
      event.preventDefault();
      close();
    } else if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      void save();
    }
  };
  const fieldId = `edit-${message.id}`;
  return (
    <li className="message message-learner" data-testid="learner-message">
      <article aria-label="You">
        <p className="message-author" aria-hidden="true">
          You
        </p>
        {editing ? (
          <form className="bubble bubble-learner bubble-editing" onSubmit={(event) => void save(event)}>
            <label htmlFor={fieldId} className="sr-only">
              Edit your message
            </label>
            <textarea
              id={fieldId}
              ref={field}
              className="input"
              lang="de"
              rows={Math.min(6, Math.max(2, draft.split("\n").length))}
              value={draft}
              maxLength={maxLength}
              onChange={(event) => setDraft(event.target.value)}
              onKeyDown={onKeyDown}
            />
            <div className="row row-end">
              <button type="button" className="button button-quiet button-small" onClick={close}>
                Cancel
              </button>
              <button type="submit" className="button button-small" disabled={saving || !draft.trim() || !canEdit}>
                Save and resend
              </button>
            </div>
            <p className="field-hint">Everything after this message is replaced by a new answer.</p>
          </form>
        ) : (
          <div className="bubble bubble-learner" lang="de" data-testid="learner-text">
            {message.content}
          </div>
        )}
        {!editing && (
          <div className="message-actions">
            <button
              type="button"
              ref={editButton}
              className="link-button"
              disabled={!canEdit}
              onClick={() => {
                setDraft(message.content);
                setEditing(true);
              }}
            >
              <span aria-hidden="true">✎ </span>Edit<span className="sr-only"> this message</span>
            </button>
          </div>
        )}
        <CorrectionView message={message} />
      </article>
    </li>
  );
}
