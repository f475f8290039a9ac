// Progress of a training run on stderr: on a terminal one line rewritten in place (at most 10 times a second);
// otherwise (a log file, CI) a full line every few seconds, so logs stay readable.

export interface TrainProgress {
  epoch: number;          // 0-based
  epochs: number;
  step: number;           // steps done in this epoch
  stepsPerEpoch: number;
  globalStep: number;     // steps done in the run (including resumed ones)
  totalSteps: number;
  loss: number;           // running mean train loss of this epoch
  lr: number;
  imgPerSec: number;      // since this process started training
  etaSec: number;         // for the rest of the run, training steps only
}

export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec)) return '?';
  const s = Math.max(0, Math.round(sec));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}

export function formatProgress(p: TrainProgress): string {
  return `epoch ${p.epoch + 1}/${p.epochs} step ${p.step}/${p.stepsPerEpoch} loss ${p.loss.toFixed(4)} lr ${p.lr.toPrecision(3)} ` +
    `${p.imgPerSec.toFixed(1)} img/s ETA ${formatDuration(p.etaSec)}`;
}

export interface ProgressBar {
  update(p: TrainProgress): void;
  /** Ends the in-place line (TTY) so the next message starts on a fresh line. */
  clear(): void;
}

export function createProgressBar(opts: { stream?: { write(s: string): unknown; isTTY?: boolean }; intervalMs?: number; now?: () => number } = {}): ProgressBar {
  const stream = opts.stream ?? process.stderr;
  const tty = stream.isTTY === true;
  const interval = opts.intervalMs ?? (tty ? 100 : 5000);
  const now = opts.now ?? Date.now;
  let last = -Infinity;
  let open = false;
  return {
    update(p) {
      const t = now();
      const final = p.step === p.stepsPerEpoch;
      if (t - last < interval && !final) return;
      last = t;
      if (tty) {
        stream.write(`\r${formatProgress(p)}\x1b[K`);
        open = true;
      } else {
        stream.write(formatProgress(p) + '\n');
      }
    },
    clear() {
      if (open) stream.write('\n');
      open = false;
    },
  };
}

/** One line of an epoch's evaluation for logs: 'test acc 61.20%' or 'test mIoU 41.30%' (the task's metrics, whichever are there). */
export function epochSummary(e: Record<string, number | null | undefined>): string {
  const pct = (v: number | null | undefined) => (typeof v === 'number' ? `${(100 * v).toFixed(2)}%` : '-');
  if ('testMIoU' in e) return `test mIoU ${pct(e['testMIoU'])}, pixel acc ${pct(e['testPixelAcc'])}`;
  if ('testMAP' in e) return `test mAP@0.5 ${pct(e['testMAP'])}${'trainMAP' in e ? `, train mAP@0.5 ${pct(e['trainMAP'])}` : ''}`;
  return `test acc ${pct(e['testAcc'])}`;
}
