import type { TutorCorrection } from "../conversation";

/**
 * What `plauder chat` writes, and where: the conversation on stdout (the learner's lines, the
 * tutor's answers as they stream, corrections under the learner's line), status on stderr.
 *
 * With `terminal` (stdin and stdout are terminals) readline shows a prompt, and a correction that
 * arrives while the answer below the learner's line is still streaming is put in its place by
 * redrawing the lines after it. Without a terminal nothing is redrawn: such a correction follows
 * the answer, naming the line it corrects. ANSI colours only with `colour`.
 */
export type ScreenOptions = {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  colour: boolean;
  terminal: boolean;
  size: () => { columns: number; rows: number };
};

/** What the screen needs of readline in terminal mode: its prompt, and whether one is showing. */
export type PromptLine = { show(): void; redraw(): void; hide(): void; readonly showing: boolean };

const esc = "\u001b[";
const style = (codes: string) => (colour: boolean, text: string) => (colour ? `${esc}${codes}m${text}${esc}0m` : text);
const bold = style("1");
const dim = style("2");
const red = style("31");
const green = style("32");
const cyan = style("1;36");

export const labels = { learner: "You: ", tutor: "Tutor: " } as const;

function isControl(code: number): boolean {
  return (code < 0x20 && code !== 0x0a && code !== 0x09) || (code >= 0x7f && code <= 0x9f);
}

/**
 * A model's or a person's text for the terminal: line breaks kept, tabs as spaces, other control
 * characters shown escaped (an escape sequence could recolour or clear the terminal).
 */
export function printableText(text: string): string {
  let out = "";
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (char === "\t") out += "    ";
    else if (isControl(code)) out += `\\u${code.toString(16).padStart(4, "0")}`;
    else out += char;
  }
  return out;
}

const wide =
  /[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]|\p{Extended_Pictographic}/u;
const zeroWidth = /\p{Mn}|\p{Me}|\u200d|[\ufe00-\ufe0f]/u;
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI sequences is the point
const ansi = /\u001b\[[0-9;]*[A-Za-z]/g;

/** Columns `text` (one line, no line breaks) takes on a terminal. */
export function displayWidth(text: string): number {
  let width = 0;
  for (const char of text.replace(ansi, "")) {
    if (zeroWidth.test(char)) continue;
    width += wide.test(char) ? 2 : 1;
  }
  return width;
}

/**
 * How many rows above the cursor the first row of `text` is, after `text` was written from the
 * start of a row on a terminal `columns` wide (a full row leaves the cursor on it, as terminals
 * wrap only when the next character comes).
 */
export function rowsAboveCursor(text: string, columns: number): number {
  const lines = text.split("\n");
  let rows = 0;
  lines.forEach((line, index) => {
    const width = displayWidth(line);
    if (index < lines.length - 1) rows += Math.max(1, Math.ceil(width / columns));
    else rows += width === 0 ? 0 : Math.floor((width - 1) / columns);
  });
  return rows;
}

/** The correction under a learner's line: the corrected sentence, then each edit. */
export function formatCorrection(correction: TutorCorrection, colour: boolean, of?: string): string[] {
  const head = of === undefined ? "" : `${dim(colour, `(your line “${printableText(of)}”)`)} `;
  if (correction.edits.length === 0) return [`  ${green(colour, "✓")} ${head}${dim(colour, "no mistakes")}`];
  const lines = [`  ${green(colour, "✎")} ${head}${green(colour, printableText(correction.corrected))}`];
  for (const edit of correction.edits) {
    const change = `${red(colour, printableText(edit.original) || "∅")} → ${green(colour, printableText(edit.suggestion) || "∅")}`;
    const kind = dim(colour, `(${edit.category}, ${edit.level})`);
    lines.push(`    ${change} ${kind}: ${printableText(edit.explanation)}`);
  }
  return lines;
}

/** Why no correction came, under the learner's line. */
export function formatCorrectionFailed(reason: string, colour: boolean, of?: string): string[] {
  const head = of === undefined ? "" : `(your line “${printableText(of)}”) `;
  return [`  ${dim(colour, `[no correction] ${head}${printableText(reason)}`)}`];
}

/** The learner's line was written, its message id not known yet. */
const pending = "";

export class ChatScreen {
  /** Everything written on stdout since the last learner line ended: what a redraw repeats. */
  private tail = "";
  /** The learner message whose line `tail` follows, while its correction may still go right under it. */
  private under: string | null = null;
  /** The answer whose text is being written (its line not ended yet), and how much of it is out. */
  private open: { id: string; written: number } | null = null;
  /** How much of each answer has been written. */
  private readonly written = new Map<string, number>();
  /** Status lines held while an answer's line is open on a terminal. */
  private heldStatus: string[] = [];
  /** Lines (corrections) to write once the open answer's line ends. */
  private afterAnswer: string[] = [];
  private prompt: PromptLine | null = null;

  constructor(private readonly options: ScreenOptions) {}

  get colour(): boolean {
    return this.options.colour;
  }

  attachPrompt(prompt: PromptLine): void {
    this.prompt = prompt;
  }

  /** Writes on stdout, keeping the prompt (if one shows) below what is written. */
  private write(text: string): void {
    if (this.prompt?.showing) {
      this.prompt.hide();
      this.options.stdout(text);
      this.prompt.redraw();
    } else this.options.stdout(text);
    this.tail += text;
  }

  /** A status line on stderr, kept off an answer line that is being written on a terminal. */
  status(text: string): void {
    if (this.open && this.options.terminal) {
      this.heldStatus.push(text);
      return;
    }
    if (this.prompt?.showing) {
      this.prompt.hide();
      this.options.stderr(`${text}\n`);
      this.prompt.redraw();
    } else this.options.stderr(`${text}\n`);
  }

  /** Whole lines on stdout (ends an open answer line first). */
  lines(lines: string[]): void {
    if (lines.length === 0) return;
    this.closeAnswer();
    this.write(`${lines.join("\n")}\n`);
  }

  /**
   * The learner's line. On a terminal readline has echoed it already after the prompt
   * (`echoed`); otherwise it is written here. Its correction may follow right under it; `messageId`
   * may be told later with {@link identify} (the server names the message when the send returns).
   */
  learner(messageId: string | null, text: string, echoed: boolean): void {
    this.closeAnswer();
    if (!echoed) this.write(`${bold(this.colour, labels.learner)}${printableText(text)}\n`);
    this.tail = "";
    this.under = messageId ?? pending;
  }

  /** The id of the learner's line written last without one. */
  identify(messageId: string): void {
    if (this.under === pending) this.under = messageId;
  }

  /**
   * The tutor's answer so far: writes what was not written yet, opening its line first (without
   * the whitespace a model may start with, which would only push the text off the label).
   */
  answer(messageId: string, text: string): void {
    let done = this.written.get(messageId) ?? 0;
    if (done === 0) done = /^\s*/.exec(text)?.[0].length ?? 0;
    if (text.length <= done) return;
    if (this.open?.id !== messageId) {
      this.closeAnswer();
      this.write(cyan(this.colour, labels.tutor));
      this.open = { id: messageId, written: done };
    }
    this.write(printableText(text.slice(done)));
    this.written.set(messageId, text.length);
    this.open.written = text.length;
  }

  /** Marks an answer as fully written (history), so later text of it is not written twice. */
  markWritten(messageId: string, length: number): void {
    this.written.set(messageId, length);
  }

  /** Ends the answer's line, with a note when it did not complete. */
  endAnswer(messageId: string, note?: string): void {
    if (this.open?.id === messageId) this.closeAnswer(note);
    else if (note) this.lines([`  ${dim(this.colour, note)}`]);
  }

  /** The correction of `messageId` (whose text is `text`): under its line when that can be had. */
  correction(messageId: string, text: string, lines: (of?: string) => string[]): void {
    if (this.under === messageId && !this.open && this.tail === "") {
      this.under = null;
      this.write(`${lines().join("\n")}\n`);
      return;
    }
    if (this.under === messageId && this.open && this.redrawUnder(lines())) {
      this.under = null;
      return;
    }
    if (this.under === messageId && this.open) {
      // Under the answer that is being written, once its line ends.
      this.afterAnswer.push(...lines(text));
      return;
    }
    this.lines(lines(text));
  }

  /**
   * Puts lines right under the learner's line by redrawing what followed it, when all of that is
   * still on the screen. Terminal mode only.
   */
  private redrawUnder(lines: string[]): boolean {
    if (!this.options.terminal || this.prompt?.showing) return false;
    const { columns, rows } = this.options.size();
    const up = rowsAboveCursor(this.tail, columns);
    const block = `${lines.join("\n")}\n`;
    const needed = up + 1 + rowsAboveCursor(block, columns);
    if (needed >= rows - 1) return false;
    const tail = this.tail;
    this.options.stdout(`\r${up > 0 ? `${esc}${up}A` : ""}${esc}J${block}${tail}`);
    return true;
  }

  private closeAnswer(note?: string): void {
    if (!this.open) return;
    this.open = null;
    this.write(note ? ` ${dim(this.colour, note)}\n` : "\n");
    const after = this.afterAnswer;
    this.afterAnswer = [];
    if (after.length > 0) this.write(`${after.join("\n")}\n`);
    const held = this.heldStatus;
    this.heldStatus = [];
    for (const line of held) this.status(line);
  }

  /** Nothing is being written (an answer line is not open). */
  get idle(): boolean {
    return this.open === null;
  }
}
