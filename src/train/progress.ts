/**
 * Training progress on the terminal: a live bar (`\r`-redrawn) with loss, accuracy, images/s and ETA when the
 * stream is a TTY; on pipes and CI logs a plain line every tenth of the epoch instead (no control characters).
 * `rla train` draws it on stderr and prints the epoch summaries on stdout, so `rla train > log` keeps results only.
 */

/** The subset of a writable stream the reporter needs (process.stdout, or a test double). */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

/** The numbers shown by the progress bar. */
export interface ProgressUpdate {
  /** Batches done and in total this epoch. */
  done: number;
  total: number;
  /** Running mean loss and accuracy (fraction) of the epoch. */
  loss: number;
  accuracy: number;
  imagesPerSecond: number;
  /** Estimated seconds to the end of the epoch. */
  etaSeconds: number;
}

/** `m:ss` or `h:mm:ss`; `--:--` when unknown. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/** Draws training progress on a stream: a live bar on TTYs, plain lines elsewhere. */
export class ProgressReporter {
  private lastTenth = -1;
  private drawn = false;

  /**
   * `stream` receives the bar and the partial-epoch lines; `print`, when given, the lines of {@link line} (epoch
   * summaries), which otherwise go to `stream` too.
   */
  constructor(
    private readonly stream: ProgressStream,
    private readonly print?: (text: string) => void,
  ) {}

  /** Redraws the bar (TTY) or prints a plain line at each tenth of the epoch (otherwise). */
  update(label: string, u: ProgressUpdate): void {
    const stats =
      `loss ${u.loss.toFixed(4)}  acc ${(100 * u.accuracy).toFixed(1)}%  ` +
      `${u.imagesPerSecond.toFixed(1)} img/s  ETA ${formatDuration(u.etaSeconds)}`;
    if (this.stream.isTTY) {
      const width = Math.max(
        10,
        Math.min(30, (this.stream.columns ?? 100) - label.length - stats.length - 16),
      );
      const filled = Math.min(width, Math.round((width * u.done) / Math.max(1, u.total)));
      this.stream.write(
        `\r\x1b[2K${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${u.done}/${u.total}  ${stats}`,
      );
      this.drawn = true;
      return;
    }
    const tenth = Math.floor((10 * u.done) / Math.max(1, u.total));
    if (tenth > this.lastTenth && tenth > 0) {
      this.lastTenth = tenth;
      this.stream.write(`${label} ${u.done}/${u.total}  ${stats}\n`);
    }
  }

  /** A bar without statistics (validation); nothing on non-TTY streams. */
  phase(label: string, done: number, total: number): void {
    if (!this.stream.isTTY) return;
    const width = 30;
    const filled = Math.min(width, Math.round((width * done) / Math.max(1, total)));
    this.stream.write(
      `\r\x1b[2K${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`,
    );
    this.drawn = true;
  }

  /** Clears the bar and prints `text` on its own line (epoch summaries, messages). */
  line(text: string): void {
    if (this.drawn) this.stream.write('\r\x1b[2K');
    this.drawn = false;
    this.lastTenth = -1;
    if (this.print) this.print(text);
    else this.stream.write(`${text}\n`);
  }
}
