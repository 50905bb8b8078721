import { type DownloadProgress, formatBytes } from "./model-download";

/** Where progress goes: a terminal (`isTTY`) gets a bar redrawn in place, anything else plain lines. */
export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressBarOptions {
  /** What is downloading, shown before the bar. */
  label: string;
  /** Default `process.stderr`. */
  stream?: ProgressOutput;
  /** Plain lines go here instead of `stream` when it is not a terminal (a logger, say). */
  log?: (line: string) => void;
  /** Milliseconds between plain lines when not on a terminal. Default 5000. */
  lineIntervalMs?: number;
  /** Milliseconds between redraws of the bar on a terminal. Default 100. */
  redrawIntervalMs?: number;
}

export interface ProgressBar {
  update(progress: DownloadProgress): void;
  /** The last line: `message` after the bar (a terminal) or on a line of its own. */
  finish(message: string): void;
}

/** "34% · 380.2 / 1117.3 MB · 12.3 MB/s · 1m 02s left" (the parts that are known). */
export function formatProgress(progress: DownloadProgress): string {
  return progressParts(progress).join(" · ");
}

/** The parts of {@link formatProgress}: the percentage first when the size is known. */
export function progressParts(progress: DownloadProgress): string[] {
  const { downloadedBytes, totalBytes, bytesPerSecond } = progress;
  const parts: string[] = [];
  if (totalBytes !== undefined && totalBytes > 0) {
    parts.push(`${percentOf(progress)}%`);
    parts.push(`${(downloadedBytes / 1e6).toFixed(1)} / ${(totalBytes / 1e6).toFixed(1)} MB`);
  } else {
    parts.push(`${formatBytes(downloadedBytes)} so far`);
  }
  if (bytesPerSecond > 0) {
    parts.push(`${formatBytes(bytesPerSecond)}/s`);
    if (totalBytes !== undefined && !progress.finished) {
      parts.push(`${formatDuration(((totalBytes - downloadedBytes) / bytesPerSecond) * 1000)} left`);
    }
  }
  return parts;
}

/** Whole percent, 100 only when every byte is in. */
export function percentOf(progress: DownloadProgress): number {
  const { downloadedBytes, totalBytes } = progress;
  if (totalBytes === undefined || totalBytes <= 0) return 0;
  if (downloadedBytes >= totalBytes) return 100;
  return Math.min(99, Math.floor((downloadedBytes / totalBytes) * 100));
}

export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${String(seconds % 60).padStart(2, "0")}s`;
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, "0")}m`;
}

/**
 * A progress display: on a terminal one line redrawn in place with a bar, the percentage, the
 * megabytes and the rate; elsewhere (a log file, a container's output) a plain line every few
 * seconds, so logs do not fill with carriage returns.
 */
export function createProgressBar(options: ProgressBarOptions): ProgressBar {
  const stream = options.stream ?? process.stderr;
  const tty = stream.isTTY === true;
  const lineEvery = options.lineIntervalMs ?? 5_000;
  const redrawEvery = options.redrawIntervalMs ?? 100;
  const line = (text: string) => (options.log ? options.log(text) : stream.write(`${text}\n`));
  let last: DownloadProgress | undefined;
  let lastDrawn = Number.NEGATIVE_INFINITY;
  let drawnOnce = false;
  let reserved = 0;

  // One line, never wrapped: the figures come first, then the label, then a bar in the room left.
  const draw = (progress: DownloadProgress) => {
    const width = Math.max(20, (stream.columns || 80) - 1);
    // Too narrow for all the figures: the time left goes first, then the rate.
    const parts = progressParts(progress);
    while (parts.length > 1 && parts.join(" · ").length > width) parts.pop();
    const figures = parts.join(" · ").slice(0, width);
    // The bar keeps its length while the figures' length changes (it only ever shrinks).
    reserved = Math.max(reserved, figures.length);
    const spare = width - reserved - 1;
    let label = options.label;
    let barWidth = Math.min(30, spare - label.length - 1);
    if (barWidth < 10) barWidth = 0;
    if (barWidth === 0 && label.length > spare) label = spare >= 12 ? `${label.slice(0, spare - 1)}…` : "";
    const total = progress.totalBytes ?? 0;
    const filled = total > 0 ? Math.round((Math.min(progress.downloadedBytes, total) / total) * barWidth) : 0;
    const bar = barWidth > 0 ? ` ${"█".repeat(filled)}${"░".repeat(barWidth - filled)}` : "";
    stream.write(`\r\x1b[K${label}${bar}${label || bar ? " " : ""}${figures}`);
    drawnOnce = true;
  };

  return {
    update(progress) {
      last = progress;
      const now = performance.now();
      if (tty) {
        if (now - lastDrawn >= redrawEvery || progress.finished) {
          lastDrawn = now;
          draw(progress);
        }
      } else if (now - lastDrawn >= lineEvery || progress.finished) {
        lastDrawn = now;
        line(`${options.label}: ${formatProgress(progress)}`);
      }
    },
    finish(message) {
      if (tty) {
        if (last && !last.finished) draw(last);
        stream.write(drawnOnce ? `\n${message}\n` : `${message}\n`);
      } else {
        line(message);
      }
    },
  };
}
