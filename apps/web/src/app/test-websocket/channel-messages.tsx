"use client";

import type { ChannelPublication } from "@plauder/api";
import { useEffect, useRef } from "react";
import { formatTime } from "./stats";

/**
 * A channel's publications, oldest first. Follows new ones to the bottom, but not when older ones
 * are put in front (loadOlder): reading back must not jump away. Text reaches the page only as
 * React text nodes.
 */
export function ChannelMessages({
  title,
  publications,
  hasOlder,
  loadingOlder,
  onLoadOlder,
}: {
  title: string;
  publications: readonly ChannelPublication[];
  hasOlder: boolean;
  loadingOlder: boolean;
  onLoadOlder: () => void;
}) {
  const box = useRef<HTMLDivElement>(null);
  const newest = publications.at(-1)?.id;
  useEffect(() => {
    if (newest && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [newest]);
  return (
    <>
      {hasOlder && (
        <button
          type="button"
          className="button button-quiet button-small"
          onClick={onLoadOlder}
          disabled={loadingOlder}
        >
          {loadingOlder ? "Loading older messages…" : "Load older messages"}
        </button>
      )}
      <div ref={box} className="channel-messages" role="log" aria-label={`Messages in ${title}`}>
        <ol className="publications" data-testid="channel-messages">
          {publications.length === 0 && <li className="muted">No messages yet.</li>}
          {publications.map((publication) => (
            <li key={publication.id} className="broadcast" data-publication-id={publication.id}>
              <div className="broadcast-meta">
                <strong>{publication.sender.name}</strong>
                <time dateTime={new Date(publication.sentAt).toISOString()}>{formatTime(publication.sentAt)}</time>
                {publication.kind === "ephemeral" && <span className="tag tag-ephemeral">ephemeral</span>}
                {publication.replayed && <span className="tag">replayed</span>}
              </div>
              <p className="broadcast-text">{publication.text}</p>
            </li>
          ))}
        </ol>
      </div>
    </>
  );
}
