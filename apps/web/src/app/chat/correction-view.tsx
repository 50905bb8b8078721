import type { MessageView } from "@plauder/api/tutor-events";
import { type ChatMessage, correctionSegments } from "~/chat/conversation-state";

type Correction = NonNullable<MessageView["correction"]>;
type Category = Correction["edits"][number]["category"];

const categoryLabels: Record<Category, string> = {
  case: "Case",
  gender: "Gender",
  "verb-position": "Word order",
  ending: "Ending",
  conjugation: "Conjugation",
  tense: "Tense",
  spelling: "Spelling",
  "word-choice": "Word choice",
  preposition: "Preposition",
  punctuation: "Punctuation",
  other: "Other",
};

export const categoryLabel = (category: string) => categoryLabels[category as Category] ?? category;

/** Under a learner's message: its correction, marked in the learner's own text, or why there is none. */
export function CorrectionView({ message }: { message: ChatMessage }) {
  const { correction } = message;
  if (!correction) {
    if (message.correctionError) {
      return (
        <p className="correction correction-unavailable" data-testid="correction">
          <span className="correction-label">Correction unavailable:</span> {message.correctionError}
        </p>
      );
    }
    if (message.correctionPending) {
      return (
        <p className="correction correction-pending" data-testid="correction">
          Checking your German…
        </p>
      );
    }
    return null;
  }
  if (correction.edits.length === 0) {
    return (
      <p className="correction correction-ok" data-testid="correction">
        <span aria-hidden="true">✓ </span>Correct
        <span className="sr-only">: no mistakes found</span>
      </p>
    );
  }
  // The offsets belong to the text that was corrected; after an edit the correction waits for the new one.
  const { segments, placed } = correctionSegments(correction.text, correction.edits);
  const numbers = new Map(placed.map((index, position) => [index, position + 1]));
  const edits = placed.map((index) => correction.edits[index]).filter((edit) => edit !== undefined);
  return (
    <div className="correction" data-testid="correction">
      <p className="correction-text">
        <span className="sr-only">Your text with its mistakes marked: </span>
        {segments.map((segment, index) =>
          segment.edit === null ? (
            // biome-ignore lint/suspicious/noArrayIndexKey: the pieces of one fixed text, in order.
            <span key={index}>{segment.text}</span>
          ) : (
            // biome-ignore lint/suspicious/noArrayIndexKey: the pieces of one fixed text, in order.
            <mark key={index} className="correction-mark">
              {segment.text || "‸"}
              <sup className="correction-number">
                <span className="sr-only"> (mistake </span>
                {numbers.get(segment.edit)}
                <span className="sr-only">)</span>
              </sup>
            </mark>
          ),
        )}
      </p>
      <ol className="correction-edits">
        {edits.map((edit, index) => (
          <li key={`${edit.start}-${edit.end}`} className="correction-edit">
            <span className="correction-number" aria-hidden="true">
              {index + 1}
            </span>
            <span>
              <del className="correction-original">{edit.original || "—"}</del>
              <span aria-hidden="true"> → </span>
              <span className="sr-only"> should be </span>
              <ins className="correction-suggestion">{edit.suggestion || "—"}</ins>
              <span className="tag tag-category">{categoryLabel(edit.category)}</span>
              {edit.explanation && <span className="correction-explanation">{edit.explanation}</span>}
            </span>
          </li>
        ))}
      </ol>
      {correction.corrected !== correction.text && (
        <p className="correction-corrected">
          <span className="correction-label">Corrected:</span> <span lang="de">{correction.corrected}</span>
        </p>
      )}
    </div>
  );
}
