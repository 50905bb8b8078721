"use client";

import type { ConversationView } from "@plauder/api/tutor-events";
import { SwitcherItem } from "~/components/switcher-item";

/** The learner's conversations, newest first, and the way to a new one. */
export function ConversationList({
  conversations,
  loading,
  error,
  selectedId,
  creating,
  onSelect,
  onNew,
}: {
  conversations: ConversationView[];
  loading: boolean;
  error: string | null;
  selectedId: string | null;
  creating: boolean;
  onSelect: (conversation: ConversationView) => void;
  onNew: () => void;
}) {
  return (
    <div className="chat-list">
      <button type="button" className="button chat-new" onClick={onNew} aria-pressed={creating}>
        <span aria-hidden="true">+ </span>New conversation
      </button>
      <h2 className="chat-list-heading" id="conversations-heading">
        Your conversations
      </h2>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      {loading && <p className="muted">Loading…</p>}
      {!loading && !error && conversations.length === 0 && <p className="muted">None yet: start one above.</p>}
      <ul className="switcher" aria-labelledby="conversations-heading" data-testid="conversation-list">
        {conversations.map((conversation) => (
          <SwitcherItem
            key={conversation.id}
            className="chat-list-item"
            current={conversation.id === selectedId}
            onSelect={() => onSelect(conversation)}
          >
            <span className="chat-list-title" lang="de">
              {conversation.title}
            </span>
            <span className="chat-list-meta">
              <span className="tag tag-level">{conversation.level}</span>
              <span>{conversation.scenario ? conversation.scenario.titleEn : "Free conversation"}</span>
            </span>
          </SwitcherItem>
        ))}
      </ul>
    </div>
  );
}
