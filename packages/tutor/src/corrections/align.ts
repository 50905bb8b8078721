import { diffArrays } from "diff";
import type { CefrLevel } from "../levels";
import type { CorrectionCategory, CorrectionEdit, ModelCorrection } from "./schema";

/**
 * Places the model's edits on the learner's text. The model's own offsets are never asked for nor
 * trusted: both texts are cut into words and punctuation marks, `diffArrays` (the `diff` package)
 * compares the two token lists, and every run of changed tokens is a hunk with exact offsets.
 * Each model edit is then matched to the hunks at the place its `original` names; the edit's
 * offsets, `original` and `suggestion` come from the diff, its category, explanation and level
 * from the model. See docs/tutor.md, Corrections.
 */

/** A word (letters, digits, marks; inner apostrophes and hyphens kept) or one punctuation mark or symbol, with its UTF-16 offsets. */
export interface Token {
  /** As written. */
  value: string;
  /** As compared: NFC, typographic apostrophes and quotes as plain ones. */
  norm: string;
  start: number;
  end: number;
}

const tokenPattern = /[\p{L}\p{M}\p{N}]+(?:['’\-‐][\p{L}\p{M}\p{N}]+)*|[^\s\p{L}\p{M}\p{N}]/gu;

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  for (const match of text.matchAll(tokenPattern)) {
    const value = match[0];
    tokens.push({ value, norm: normalizeToken(value), start: match.index, end: match.index + value.length });
  }
  return tokens;
}

function normalizeToken(value: string): string {
  return value
    .normalize("NFC")
    .replace(/[’‘‚]/g, "'")
    .replace(/[„“”«»]/g, '"')
    .replace(/‐/g, "-");
}

/** Whitespace runs as one space, trimmed, NFC: two texts equal under this differ only in spacing. */
export function normalizeWhitespace(text: string): string {
  return text.normalize("NFC").replace(/\s+/g, " ").trim();
}

/**
 * One place where the texts differ, as half-open token ranges: `[oldStart, oldEnd)` in the
 * learner's tokens and `[newStart, newEnd)` in the corrected text's. `core*` is the changed part
 * itself; the outer range also holds the neighbouring word an insertion is anchored to (an edit
 * always underlines something).
 */
interface Hunk {
  oldStart: number;
  oldEnd: number;
  newStart: number;
  newEnd: number;
  coreOldStart: number;
  coreOldEnd: number;
  coreNewStart: number;
  coreNewEnd: number;
  claimed: boolean;
}

interface Run {
  oldStart: number;
  oldEnd: number;
  newStart: number;
  newEnd: number;
  common: boolean;
}

/** The runs of `diffArrays(a, b)` with their positions (offset by `oldAt` and `newAt`). */
function runsOf<T>(a: T[], b: T[], oldAt = 0, newAt = 0, comparator?: (left: T, right: T) => boolean): Run[] {
  const runs: Run[] = [];
  let oldIndex = oldAt;
  let newIndex = newAt;
  const changes = comparator ? diffArrays(a, b, { comparator }) : diffArrays(a, b);
  for (const change of changes) {
    const count = change.count ?? change.value.length;
    const last = runs.at(-1);
    if (!change.added && !change.removed) {
      runs.push({
        oldStart: oldIndex,
        oldEnd: oldIndex + count,
        newStart: newIndex,
        newEnd: newIndex + count,
        common: true,
      });
      oldIndex += count;
      newIndex += count;
      continue;
    }
    const run =
      last && !last.common
        ? last
        : { oldStart: oldIndex, oldEnd: oldIndex, newStart: newIndex, newEnd: newIndex, common: false };
    if (run !== last) runs.push(run);
    if (change.removed) {
      oldIndex += count;
      run.oldEnd = oldIndex;
    } else {
      newIndex += count;
      run.newEnd = newIndex;
    }
  }
  return runs;
}

/** A word folded for "is this the same word, mistyped?": lower case, umlauts as their vowel, ß as ss. */
function fold(value: string): string {
  return value.toLocaleLowerCase("de").normalize("NFD").replace(/\p{M}/gu, "").replace(/ß/g, "ss");
}

/** Whether two tokens are one word written two ways (case, umlaut, ß, ending): `gefahrt`/`gefahren`, `ein`/`einen`. */
function similar(left: string, right: string): boolean {
  const a = fold(left);
  const b = fold(right);
  if (a === b) return true;
  if (!/^\p{L}/u.test(a) || !/^\p{L}/u.test(b)) return false;
  let prefix = 0;
  while (prefix < a.length && a[prefix] === b[prefix]) prefix++;
  return prefix >= 3 || (prefix >= 2 && Math.min(a.length, b.length) <= 3);
}

/**
 * A changed run cut into the smallest edits it is made of: the same word written two ways is an
 * edit of its own (`berlin gefahrt` → `Berlin gefahren` is two), and so is each word of a run that
 * swaps as many words as it takes.
 */
function splitRun(run: Run, oldTokens: Token[], newTokens: Token[]): Run[] {
  const removed = run.oldEnd - run.oldStart;
  const added = run.newEnd - run.newStart;
  if (removed === 0 || added === 0 || removed + added === 2) return [run];
  const pairwise = (part: Run): Run[] =>
    part.oldEnd - part.oldStart === part.newEnd - part.newStart
      ? Array.from({ length: part.oldEnd - part.oldStart }, (_, index) => ({
          oldStart: part.oldStart + index,
          oldEnd: part.oldStart + index + 1,
          newStart: part.newStart + index,
          newEnd: part.newStart + index + 1,
          common: false,
        }))
      : [part];
  if (removed === added) return pairwise(run);
  const parts = runsOf(
    oldTokens.slice(run.oldStart, run.oldEnd).map((token) => token.norm),
    newTokens.slice(run.newStart, run.newEnd).map((token) => token.norm),
    run.oldStart,
    run.newStart,
    similar,
  );
  return parts.flatMap((part) => pairwise({ ...part, common: false }));
}

/** The hunks between the two token lists, sorted, never overlapping. */
function hunksOf(oldTokens: Token[], newTokens: Token[]): Hunk[] {
  const hunks: Hunk[] = runsOf(
    oldTokens.map((token) => token.norm),
    newTokens.map((token) => token.norm),
  )
    .filter((run) => !run.common)
    .flatMap((run) => splitRun(run, oldTokens, newTokens))
    .map((run) => ({
      ...run,
      coreOldStart: run.oldStart,
      coreOldEnd: run.oldEnd,
      coreNewStart: run.newStart,
      coreNewEnd: run.newEnd,
      claimed: false,
    }));

  // An insertion (nothing removed) is anchored to a word next to it that no other hunk changes:
  // the one before it, else the one after it; failing both, it joins the hunk before (or after) it.
  const taken = new Set<number>();
  for (const hunk of hunks) for (let index = hunk.oldStart; index < hunk.oldEnd; index++) taken.add(index);
  for (const hunk of hunks) {
    if (hunk.oldStart < hunk.oldEnd) continue;
    const at = hunk.oldStart;
    if (at > 0 && !taken.has(at - 1)) {
      hunk.oldStart--;
      hunk.newStart--;
      taken.add(at - 1);
    } else if (at < oldTokens.length && !taken.has(at)) {
      hunk.oldEnd++;
      hunk.newEnd++;
      taken.add(at);
    } else if (at > 0)
      hunk.oldStart--; // overlaps the hunk before: merged below
    else if (at < oldTokens.length) hunk.oldEnd++; // overlaps the hunk after
  }

  const merged: Hunk[] = [];
  hunks.sort((a, b) => a.oldStart - b.oldStart || a.oldEnd - b.oldEnd);
  for (const hunk of hunks) {
    if (hunk.oldStart === hunk.oldEnd) continue; // an insertion into an empty text: nothing to underline
    const last = merged.at(-1);
    if (last && hunk.oldStart < last.oldEnd) {
      last.oldEnd = Math.max(last.oldEnd, hunk.oldEnd);
      last.newStart = Math.min(last.newStart, hunk.newStart);
      last.newEnd = Math.max(last.newEnd, hunk.newEnd);
      last.coreOldStart = Math.min(last.coreOldStart, hunk.coreOldStart);
      last.coreOldEnd = Math.max(last.coreOldEnd, hunk.coreOldEnd);
      last.coreNewStart = Math.min(last.coreNewStart, hunk.coreNewStart);
      last.coreNewEnd = Math.max(last.coreNewEnd, hunk.coreNewEnd);
    } else merged.push(hunk);
  }
  return merged;
}

/**
 * Whether a model edit naming the learner's tokens `[from, to)` points at this hunk's change. An
 * insertion counts when it falls inside the named words, or with `borders` also right before or
 * after them (`gehe` → `gehe ich` names the word the insertion follows).
 */
function touches(hunk: Hunk, from: number, to: number, borders: boolean): boolean {
  if (hunk.coreOldStart < hunk.coreOldEnd) return hunk.coreOldStart < to && from < hunk.coreOldEnd;
  const at = hunk.coreOldStart;
  return borders ? from <= at && at <= to : from < at && at < to;
}

/** Where the token sequence `needle` stands in `tokens`, as start indices. */
function occurrences(tokens: Token[], needle: string[], key: (token: Token) => string): number[] {
  const found: number[] = [];
  if (needle.length === 0) return found;
  for (let index = 0; index + needle.length <= tokens.length; index++) {
    let matches = true;
    for (let offset = 0; offset < needle.length && matches; offset++) {
      matches = key(tokens[index + offset] as Token) === needle[offset];
    }
    if (matches) found.push(index);
  }
  return found;
}

const lower = (token: Token) => token.norm.toLocaleLowerCase("de");
const tokenKey = (value: string) =>
  tokenize(value)
    .map((token) => token.norm)
    .join(" ");

export interface AlignedEdits {
  edits: CorrectionEdit[];
  /** Model edits that were dropped because their `original` does not stand at a changed place. */
  dropped: ModelCorrection["edits"];
}

/**
 * The edits of `model` placed on `text`: one per model edit that applies, one of category `other`
 * with an empty explanation per changed place no model edit explains (at `fallbackLevel`), sorted
 * by `start`, never overlapping, `text.slice(start, end) === original` for each.
 */
export function alignEdits(
  text: string,
  corrected: string,
  modelEdits: ModelCorrection["edits"],
  fallbackLevel: CefrLevel,
): AlignedEdits {
  const oldTokens = tokenize(text);
  const newTokens = tokenize(corrected);
  const hunks = hunksOf(oldTokens, newTokens);
  const placed: Array<{ hunks: Hunk[]; category: CorrectionCategory; explanation: string; level: CefrLevel }> = [];
  const dropped: ModelCorrection["edits"] = [];

  const insertedKey = (hunk: Hunk): string =>
    newTokens
      .slice(hunk.coreNewStart, hunk.coreNewEnd)
      .map((token) => token.norm)
      .join(" ");

  const suggestionOf = (group: Hunk[]): string => {
    const first = group[0] as Hunk;
    const last = group.at(-1) as Hunk;
    if (first.newStart >= last.newEnd) return "";
    return corrected.slice((newTokens[first.newStart] as Token).start, (newTokens[last.newEnd - 1] as Token).end);
  };

  /** The hunks an edit over tokens `[from, to)` takes: those it touches and all between them; undefined if one is taken already. */
  const groupFor = (from: number, to: number, borders: boolean): Hunk[] | undefined => {
    const touched = hunks.filter((hunk) => touches(hunk, from, to, borders));
    if (touched.length === 0) return undefined;
    const lo = (touched[0] as Hunk).oldStart;
    const hi = (touched.at(-1) as Hunk).oldEnd;
    const group = hunks.filter((hunk) => hunk.oldStart < hi && lo < hunk.oldEnd);
    return group.some((hunk) => hunk.claimed) ? undefined : group;
  };

  // The narrowest edits first: an edit spanning a whole sentence must not swallow the precise ones.
  const order = modelEdits
    .map((edit, index) => ({ edit, index, needle: tokenize(edit.original).map((token) => token.norm) }))
    .sort((a, b) => a.needle.length - b.needle.length || a.index - b.index);

  for (const { edit, needle } of order) {
    const wanted = tokenKey(edit.suggestion);
    let chosen: Hunk[] | undefined;
    if (needle.length === 0) {
      // Nothing named in the learner's text: an insertion, found by the words it inserts.
      const insertion = hunks.find(
        (hunk) =>
          !hunk.claimed &&
          hunk.coreOldStart === hunk.coreOldEnd &&
          wanted !== "" &&
          (insertedKey(hunk) === wanted || tokenKey(suggestionOf([hunk])) === wanted),
      );
      chosen = insertion ? [insertion] : undefined;
    } else {
      let starts = occurrences(oldTokens, needle, (token) => token.norm);
      let key = needle;
      if (starts.length === 0) {
        key = needle.map((value) => value.toLocaleLowerCase("de"));
        starts = occurrences(oldTokens, key, lower);
      }
      // At each place the words stand: the changes inside them, and those plus insertions right next to them.
      const candidates = starts.map((start) => {
        const inside = groupFor(start, start + key.length, false);
        const bordering = groupFor(start, start + key.length, true);
        return { inside, bordering };
      });
      const matches = (group: Hunk[] | undefined) => group !== undefined && tokenKey(suggestionOf(group)) === wanted;
      const best = candidates.flatMap(({ inside, bordering }) => [inside, bordering]).find(matches);
      chosen =
        best ?? candidates.map(({ inside, bordering }) => inside ?? bordering).find((group) => group !== undefined);
    }
    if (!chosen) {
      dropped.push(edit);
      continue;
    }
    for (const hunk of chosen) hunk.claimed = true;
    placed.push({ hunks: chosen, category: edit.category, explanation: edit.explanation.trim(), level: edit.level });
  }

  for (const hunk of hunks) {
    if (!hunk.claimed) placed.push({ hunks: [hunk], category: "other", explanation: "", level: fallbackLevel });
  }

  const spans = placed
    .map(({ hunks: group, ...explained }) => ({
      start: (oldTokens[(group[0] as Hunk).oldStart] as Token).start,
      end: (oldTokens[(group.at(-1) as Hunk).oldEnd - 1] as Token).end,
      newStart: (group[0] as Hunk).newStart,
      newEnd: (group.at(-1) as Hunk).newEnd,
      suggestion: suggestionOf(group),
      ...explained,
    }))
    .sort((a, b) => a.start - b.start);

  // Where the learner wrote two tokens without a space and the corrected text has one between
  // them (`Jahr.` → `Jahren in Berlin.`), the edit brings that space along, so that applying every
  // edit gives the corrected text. Between two touching edits the later one brings it.
  const spaceIn = (from: number, to: number) => {
    const gap = corrected.slice(from, to);
    return /^\s+$/.test(gap) ? gap : "";
  };
  const glued = (index: number) =>
    index > 0 && index < text.length && !/\s/.test(text[index - 1] ?? "") && !/\s/.test(text[index] ?? "");
  const edits = spans.map((span, index): CorrectionEdit => {
    const before = newTokens[span.newStart - 1];
    const after = newTokens[span.newEnd];
    const nextTouches = spans[index + 1]?.start === span.end;
    let suggestion = span.suggestion;
    if (suggestion === "") {
      if (before && after && glued(span.start) && glued(span.end) && !nextTouches) {
        suggestion = spaceIn(before.end, after.start);
      }
    } else {
      if (before && glued(span.start))
        suggestion = spaceIn(before.end, (newTokens[span.newStart] as Token).start) + suggestion;
      if (after && glued(span.end) && !nextTouches) {
        suggestion += spaceIn((newTokens[span.newEnd - 1] as Token).end, after.start);
      }
    }
    const { start, end, category, explanation, level } = span;
    return { start, end, original: text.slice(start, end), suggestion, category, explanation, level };
  });
  return { edits, dropped };
}
