/** Progress lines on stderr for long runs: one line per item when stderr is not a TTY, an updating line when it is. */
export function progressReporter(label: string, total: number, stream: NodeJS.WriteStream = process.stderr) {
  const start = performance.now();
  const tty = Boolean(stream.isTTY);
  return {
    tick(done: number, item?: string): void {
      const elapsed = (performance.now() - start) / 1000;
      const eta = done > 0 ? (elapsed / done) * (total - done) : 0;
      const line = `${label} ${done}/${total}${item ? ` ${item}` : ''} · ${elapsed.toFixed(1)} s elapsed, ETA ${eta.toFixed(0)} s`;
      if (tty) stream.write(`\r\x1b[K${line}`);
      else stream.write(`${line}\n`);
    },
    end(): void {
      if (tty) stream.write('\n');
    },
  };
}
