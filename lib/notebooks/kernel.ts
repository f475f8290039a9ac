// A minimal Jupyter client for the tslab kernel: the same kernel users get in Jupyter, started the way Jupyter
// starts it (`tslab kernel --config-path <connection file>`), spoken to over the Jupyter messaging protocol
// (zeromq sockets, HMAC-SHA256-signed multipart messages). No Python, no jupyter_client.
// zeromq comes with tslab (its kernel binds the sockets with it), so it is always installed next to tslab.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Dealer, Subscriber } from 'zeromq';

const DELIM = '<IDS|MSG>';

/** One nbformat v4 output, as stored in an .ipynb. */
export type NotebookOutput =
  | { output_type: 'stream'; name: 'stdout' | 'stderr'; text: string }
  | { output_type: 'display_data'; data: Record<string, unknown>; metadata: Record<string, unknown> }
  | { output_type: 'execute_result'; data: Record<string, unknown>; metadata: Record<string, unknown>; execution_count: number | null }
  | { output_type: 'error'; ename: string; evalue: string; traceback: string[] };

export interface CellResult {
  status: 'ok' | 'error' | 'abort';
  executionCount: number | null;
  outputs: NotebookOutput[];
}

export interface Kernel {
  /** Rejects with an AbortError when `signal` aborts (Ctrl-C): the caller then shuts the kernel down. */
  execute(code: string, opts?: { timeoutMs?: number; signal?: AbortSignal }): Promise<CellResult>;
  shutdown(): Promise<void>;
  /** The kernel process and its connection file (which holds the HMAC key; removed on shutdown). */
  pid: number | undefined;
  connectionFile: string;
}

// Kernels not yet shut down, killed (and their connection files removed) synchronously if this process exits first:
// after a second Ctrl-C (process.exit) or an uncaught error. A signal itself does not run 'exit' handlers: the CLIs
// handle SIGINT/SIGTERM with stopOnSignals (lib/cli/interrupt.ts) and shut the kernel down in runNotebook.
const liveKernels = new Set<() => void>();
let exitHookInstalled = false;
function onExitKill(cleanup: () => void): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => { for (const c of liveKernels) c(); });
  }
  liveKernels.add(cleanup);
  return () => liveKernels.delete(cleanup);
}

interface Message {
  header: { msg_id: string; msg_type: string; session: string; username: string; date: string; version: string };
  parent_header: { msg_id?: string };
  metadata: Record<string, unknown>;
  content: Record<string, unknown>;
}

/** Path of tslab's CLI script, resolved from this package (works from any checkout after `npm install`). */
export function tslabBin(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('tslab/package.json')), 'bin', 'tslab');
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

function sign(key: string, parts: string[]): string {
  const h = createHmac('sha256', key);
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

/** Decodes a multipart message (any routing prefix, then the delimiter) and checks its signature. */
function decode(key: string, frames: Buffer[]): Message {
  const at = frames.findIndex((f) => f.toString() === DELIM);
  if (at < 0 || frames.length < at + 6) throw new Error('kernel sent a malformed message (no <IDS|MSG> delimiter)');
  const [hmac, header, parent, metadata, content] = frames.slice(at + 1, at + 6).map((f) => f.toString());
  if (sign(key, [header!, parent!, metadata!, content!]) !== hmac) throw new Error('kernel sent a message with a bad HMAC signature');
  return { header: JSON.parse(header!), parent_header: JSON.parse(parent!), metadata: JSON.parse(metadata!), content: JSON.parse(content!) };
}

/**
 * Starts a tslab kernel with `cwd` as its working directory (Jupyter uses the notebook's folder; module and
 * @types resolution start there). `env` is added to the kernel's environment.
 */
export async function startKernel(opts: { cwd: string; env?: Record<string, string>; startTimeoutMs?: number }): Promise<Kernel> {
  const key = randomBytes(32).toString('hex');
  const session = randomUUID();
  const [shellPort, iopubPort, stdinPort, controlPort, hbPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const connDir = mkdtempSync(join(tmpdir(), 'convmixer-kernel-'));
  const connFile = join(connDir, 'connection.json');
  writeFileSync(connFile, JSON.stringify({
    transport: 'tcp', ip: '127.0.0.1', signature_scheme: 'hmac-sha256', key, kernel_name: 'tslab',
    shell_port: shellPort, iopub_port: iopubPort, stdin_port: stdinPort, control_port: controlPort, hb_port: hbPort,
  }));

  const child: ChildProcess = spawn(process.execPath, [tslabBin(), 'kernel', '--config-path', connFile], {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Kernel output outside cells (startup failures, warnings) is kept for error messages.
  // Never leave an orphaned kernel (or its key) behind when this process exits early.
  const forget = onExitKill(() => { child.kill('SIGKILL'); rmSync(connDir, { recursive: true, force: true }); });
  let kernelLog = '';
  const keepLog = (b: Buffer) => { kernelLog = (kernelLog + b.toString()).slice(-4000); };
  child.stdout!.on('data', keepLog);
  child.stderr!.on('data', keepLog);
  let exited: string | null = null;
  const exitWaiters: ((why: string) => void)[] = [];
  child.on('exit', (code, signal) => {
    exited = `tslab kernel exited (code ${code}, signal ${signal})${kernelLog ? `: ${kernelLog.trim().split('\n').slice(-5).join(' | ')}` : ''}`;
    for (const w of exitWaiters.splice(0)) w(exited);
  });

  const shell = new Dealer();
  const control = new Dealer();
  const iopub = new Subscriber();
  shell.connect(`tcp://127.0.0.1:${shellPort}`);
  control.connect(`tcp://127.0.0.1:${controlPort}`);
  iopub.connect(`tcp://127.0.0.1:${iopubPort}`);
  iopub.subscribe();

  // Route every iopub and shell message to whoever waits for replies to that request id.
  const listeners = new Map<string, (m: Message, channel: 'iopub' | 'shell') => void>();
  const pump = async (sock: Dealer | Subscriber, channel: 'iopub' | 'shell') => {
    try {
      for await (const frames of sock) {
        const msg = decode(key, frames as Buffer[]);
        const id = msg.parent_header.msg_id;
        if (id) listeners.get(id)?.(msg, channel);
      }
    } catch {
      // socket closed
    }
  };
  void pump(iopub, 'iopub');
  void pump(shell, 'shell');
  void pump(control, 'shell');

  const send = async (sock: Dealer, msgId: string, msgType: string, content: Record<string, unknown>): Promise<void> => {
    const header = { msg_id: msgId, msg_type: msgType, session, username: 'convmixer', date: new Date().toISOString(), version: '5.3' };
    const parts = [JSON.stringify(header), '{}', '{}', JSON.stringify(content)];
    await sock.send([DELIM, sign(key, parts), ...parts]);
  };

  /** Sends a request and resolves when both its shell reply and its iopub 'idle' status have arrived. */
  const request = (sock: Dealer, msgType: string, content: Record<string, unknown>, onIopub: (m: Message) => void, timeoutMs: number, signal?: AbortSignal) =>
    new Promise<Message>((resolveReply, reject) => {
      let reply: Message | null = null;
      let idle = false;
      const id = randomUUID();
      const done = (err: Error | null) => {
        clearTimeout(timer);
        listeners.delete(id);
        const i = exitWaiters.indexOf(onExit);
        if (i >= 0) exitWaiters.splice(i, 1);
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolveReply(reply!);
      };
      const onExit = (why: string) => done(new Error(why));
      const onAbort = () => done(Object.assign(new Error(`${msgType} interrupted`), { name: 'AbortError' }));
      const timer = setTimeout(() => done(new Error(`${msgType} got no reply within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
      if (exited) return done(new Error(exited));
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      exitWaiters.push(onExit);
      listeners.set(id, (m, channel) => {
        if (channel === 'shell') reply = m;
        else if (m.header.msg_type === 'status') idle ||= m.content.execution_state === 'idle';
        else onIopub(m);
        if (reply && idle) done(null);
      });
      send(sock, id, msgType, content).catch((err: Error) => done(err));
    });

  // Wait until the kernel answers and iopub is subscribed (zeromq drops messages published before the
  // subscription is in place, so kernel_info is retried until its 'idle' status arrives on iopub).
  const startDeadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
  for (;;) {
    try {
      await request(shell, 'kernel_info_request', {}, () => {}, 1500);
      break;
    } catch (err) {
      if (exited || Date.now() > startDeadline) {
        child.kill('SIGKILL');
        rmSync(connDir, { recursive: true, force: true });
        forget();
        shell.close();
        control.close();
        iopub.close();
        throw new Error(`tslab kernel did not start: ${(err as Error).message}${kernelLog ? ` (${kernelLog.trim().split('\n').slice(-3).join(' | ')})` : ''}`);
      }
    }
  }

  let count = 0;
  async function execute(code: string, execOpts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<CellResult> {
    const outputs: NotebookOutput[] = [];
    const onIopub = (m: Message) => {
      const c = m.content;
      switch (m.header.msg_type) {
        case 'stream': {
          const name = c.name === 'stderr' ? 'stderr' : 'stdout';
          const last = outputs[outputs.length - 1];
          // Consecutive writes to one stream form one output, as in Jupyter.
          if (last && last.output_type === 'stream' && last.name === name) last.text += String(c.text);
          else outputs.push({ output_type: 'stream', name, text: String(c.text) });
          break;
        }
        case 'display_data':
        case 'update_display_data':
          outputs.push({ output_type: 'display_data', data: (c.data ?? {}) as Record<string, unknown>, metadata: (c.metadata ?? {}) as Record<string, unknown> });
          break;
        case 'execute_result':
          outputs.push({ output_type: 'execute_result', data: (c.data ?? {}) as Record<string, unknown>, metadata: (c.metadata ?? {}) as Record<string, unknown>, execution_count: (c.execution_count as number) ?? null });
          break;
        case 'error':
          outputs.push({ output_type: 'error', ename: String(c.ename), evalue: String(c.evalue), traceback: (c.traceback as string[]) ?? [] });
          break;
      }
    };
    const reply = await request(shell, 'execute_request', { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true }, onIopub, execOpts.timeoutMs ?? 30 * 60_000, execOpts.signal);
    count += 1;
    const status = reply.content.status === 'ok' ? 'ok' : reply.content.status === 'abort' ? 'abort' : 'error';
    return { status, executionCount: (reply.content.execution_count as number | undefined) ?? count, outputs };
  }

  async function shutdown(): Promise<void> {
    if (!exited) {
      try {
        await request(control, 'shutdown_request', { restart: false }, () => {}, 3000);
      } catch {
        // fall through to kill
      }
      // tslab closes its sockets on shutdown but its compiler watcher can keep the process alive.
      if (!exited) {
        await new Promise<void>((r) => {
          const t = setTimeout(() => { child.kill('SIGKILL'); r(); }, 1000);
          exitWaiters.push(() => { clearTimeout(t); r(); });
          child.kill('SIGTERM');
        });
      }
    }
    forget();
    shell.close();
    control.close();
    iopub.close();
    rmSync(connDir, { recursive: true, force: true });
  }

  return { execute, shutdown, pid: child.pid, connectionFile: connFile };
}
