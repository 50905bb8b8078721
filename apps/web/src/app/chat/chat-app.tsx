"use client";

import type { ConversationView } from "@plauder/api/tutor-events";
import { useEffect, useRef, useState } from "react";
import { errorMessage } from "~/lib/error-message";
import { api } from "~/trpc/react";
import { ConversationList } from "./conversation-list";
import { ConversationPane } from "./conversation-pane";
import { NewConversation } from "./new-conversation";
import { TutorMissing } from "./tutor-status";

/** Shows `?c=<id>` in the address bar, so a reload (or another tab) opens the same conversation. */
function showInAddress(conversationId: string | null): void {
  const url = conversationId ? `/chat?c=${conversationId}` : "/chat";
  if (window.location.pathname + window.location.search !== url) window.history.replaceState(null, "", url);
}

/** The chat page: conversations on the left, the open one (or a new one) in the middle. */
export function ChatApp({
  initialConversationId,
  maxLength,
}: {
  initialConversationId: string | null;
  maxLength: number;
}) {
  const utils = api.useUtils();
  const status = api.tutor.status.useQuery(undefined, {
    // Until the tutor can answer, look again now and then: starting Ollama is enough.
    refetchInterval: (query) => (query.state.data?.ready === false ? 10_000 : false),
  });
  const conversations = api.tutor.conversations.useQuery();
  const [selectedId, setSelectedId] = useState<string | null>(initialConversationId);
  const [creating, setCreating] = useState(false);
  const [listOpen, setListOpen] = useState(false);
  const [chosen, setChosen] = useState(false);
  const listToggle = useRef<HTMLButtonElement>(null);
  const sidebar = useRef<HTMLElement>(null);

  const list = conversations.data ?? [];
  const selected = list.find((conversation) => conversation.id === selectedId) ?? null;
  const showNew = creating || (conversations.isSuccess && !selected);

  useEffect(() => {
    if (conversations.isSuccess) showInAddress(selected?.id ?? null);
  }, [conversations.isSuccess, selected?.id]);

  // Opening the list on a phone moves focus into it; Escape closes it again.
  useEffect(() => {
    if (listOpen) sidebar.current?.querySelector<HTMLElement>("button")?.focus();
  }, [listOpen]);
  const closeList = () => {
    setListOpen(false);
    listToggle.current?.focus();
  };

  const open = (conversation: ConversationView) => {
    setSelectedId(conversation.id);
    setChosen(true);
    setCreating(false);
    setListOpen(false);
  };
  const started = (conversation: ConversationView) => {
    utils.tutor.conversations.setData(undefined, (previous) => [
      conversation,
      ...(previous ?? []).filter((item) => item.id !== conversation.id),
    ]);
    void utils.tutor.conversations.invalidate();
    open(conversation);
  };

  const tutor = status.data;
  const tutorBlocked =
    tutor && !tutor.ready
      ? "The tutor cannot answer yet (see above)."
      : status.error
        ? errorMessage(status.error)
        : null;

  return (
    <div className={`chat${listOpen ? " list-open" : ""}`}>
      <div className="chat-toolbar">
        <button
          type="button"
          ref={listToggle}
          className="button button-quiet button-small chat-list-toggle"
          aria-expanded={listOpen}
          aria-controls="chat-sidebar"
          onClick={() => setListOpen((value) => !value)}
        >
          <span aria-hidden="true">☰ </span>Conversations
          {list.length > 0 && <span className="count-pill">{list.length}</span>}
        </button>
        {tutor?.ready && (
          <span className="chat-model muted" title={`${tutor.kind}: ${tutor.model}`}>
            Tutor ready
          </span>
        )}
      </div>
      <nav
        id="chat-sidebar"
        ref={sidebar}
        className="chat-sidebar"
        aria-label="Conversations"
        onKeyDown={(event) => {
          if (event.key === "Escape" && listOpen) closeList();
        }}
      >
        <ConversationList
          conversations={list}
          loading={conversations.isPending}
          error={conversations.error ? errorMessage(conversations.error) : null}
          selectedId={showNew ? null : (selected?.id ?? null)}
          creating={showNew}
          onSelect={open}
          onNew={() => {
            setCreating(true);
            setListOpen(false);
          }}
        />
      </nav>
      <div className="chat-main">
        {tutor && !tutor.ready && <TutorMissing problem={tutor.problem} fix={tutor.fix} />}
        {showNew ? (
          <NewConversation
            tutorReady={tutor?.ready === true}
            onStarted={started}
            onCancel={selected ? () => setCreating(false) : null}
          />
        ) : selected ? (
          <ConversationPane
            key={selected.id}
            conversation={selected}
            maxLength={maxLength}
            tutorBlocked={tutorBlocked}
            focusOnOpen={chosen}
          />
        ) : (
          <p className="muted chat-loading">Loading your conversations…</p>
        )}
      </div>
    </div>
  );
}
