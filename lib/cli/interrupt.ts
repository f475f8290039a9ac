// Ctrl-C (SIGINT) and SIGTERM for long commands: the first asks the work to stop after its current step (an
// AbortSignal the training loop checks every step, which leaves a 'failed' record and the last checkpoint), the second
// quits at once (exit 130). `dispose()` removes the handlers when the work is over. `stopping` says what the first does
// (notebooks: the running cell is abandoned and the kernel shut down).
export function stopOnSignals(what: string, stopping = 'stopping after this step'): { signal: AbortSignal; dispose(): void } {
  const abort = new AbortController();
  let count = 0;
  const onSignal = (): void => {
    count++;
    if (count > 1) process.exit(130);
    console.error(`\ninterrupt: ${stopping} (Ctrl-C again to quit now); ${what}`);
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: abort.signal,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
