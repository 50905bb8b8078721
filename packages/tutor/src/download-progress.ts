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

  const draw = (progress: DownloadProgress) => {
    const width = Math.max(40, Math.min(stream.columns ?? 80, 120));
    const figures = formatProgress(progress);
    const barWidth = Math.max(10, width - options.label.length - figures.length - 6);
    const filled =
      progress.totalBytes && progress.totalBytes > 0
        ? Math.round((Math.min(progress.downloadedBytes, progress.totalBytes) / progress.totalBytes) * barWidth)
        : 0;
    const bar = `${"█".repeat(filled)}${"░".repeat(barWidth - filled)}`;
    stream.write(`\r\x1b[K${options.label} ${bar} ${figures}`.slice(0, width + 4));
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
