"use client";

import { useRef, useState } from "react";

/** What the tutor lacks and the one command that fixes it, ready to copy. */
export function TutorMissing({ problem, fix }: { problem: string; fix: string }) {
  const code = useRef<HTMLElement>(null);
  const [copied, setCopied] = useState<"yes" | "select" | null>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(fix);
      setCopied("yes");
    } catch {
      // No clipboard (an insecure origin, a refusal): select the command for the person to copy.
      const element = code.current;
      const selection = window.getSelection();
      if (element && selection) {
        const range = document.createRange();
        range.selectNodeContents(element);
        selection.removeAllRanges();
        selection.addRange(range);
      }
      setCopied("select");
    }
  };
  return (
    <section className="tutor-missing" aria-labelledby="tutor-missing-title" data-testid="tutor-missing">
      <h2 id="tutor-missing-title">The tutor cannot answer yet</h2>
      <p>{problem}</p>
      <p className="muted">Run this on the server, then come back: the page notices by itself.</p>
      <div className="command">
        <pre>
          <code ref={code} data-testid="tutor-fix">
            {fix}
          </code>
        </pre>
        <button type="button" className="button button-quiet button-small" onClick={() => void copy()}>
          Copy command
        </button>
      </div>
      <p className="field-hint" aria-live="polite">
        {copied === "yes" ? "Copied." : copied === "select" ? "Selected: press Ctrl+C (⌘C) to copy." : ""}
      </p>
      <p className="field-hint">Your conversations stay readable meanwhile.</p>
    </section>
  );
}
