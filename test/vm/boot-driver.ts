// A child process for the e2e tests (and a hand tool): boot the kernel, optionally run one
// command, shut down. SIGINT/SIGTERM abort the run's signal, as the CLI does, and the process
// exits 130 after teardown. Prints one JSON line per event on stdout. The VM is the one
// `pinlab run` boots (productionSpec).
//   node dist/test/vm/boot-driver.js --kernel K --run-dir D [--cmd "cat /proc/vmstat"] [--hold]
import { parseArgs } from 'node:util';
import { createContext } from '../../harness/context.js';
import { ensureBaseImage } from '../../harness/vm/image.js';
import { bootToReady } from '../../harness/vm/runner.js';
import { productionSpec } from './production-spec.js';

const { values } = parseArgs({
  options: {
    kernel: { type: 'string' },
    'run-dir': { type: 'string' },
    cmd: { type: 'string', multiple: true },
    hold: { type: 'boolean', default: false },
    'boot-timeout': { type: 'string', default: '60000' },
    append: { type: 'string', multiple: true },
  },
});
const emit = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);

const ac = new AbortController();
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => ac.abort());
const ctx = createContext({ signal: ac.signal, log: (m) => process.stderr.write(`${m}\n`) });
emit({ event: 'started', pid: process.pid });

let code = 0;
try {
  if (!values.kernel || !values['run-dir']) throw new Error('--kernel and --run-dir are required');
  const image = await ensureBaseImage(ctx);
  emit({ event: 'image', key: image.key, sizeBytes: image.sizeBytes });
  const spec = await productionSpec(ctx, { kernel: values.kernel, runDir: values['run-dir'], cmdline: values.append ?? [], bootTimeoutMs: Number(values['boot-timeout']) });
  const vm = await bootToReady(spec, ctx);
  emit({ event: 'ready', pid: vm.pid, bootMs: vm.bootMs, timings: vm.timings, kernelRelease: vm.kernelRelease });
  for (const cmd of values.cmd ?? []) {
    const r = await vm.exec(cmd, { timeoutMs: 60_000 });
    emit({ event: 'exec', cmd, ...r });
  }
  if (values.hold) await new Promise((_, reject) => ac.signal.addEventListener('abort', () => reject(new Error('interrupted'))));
  await vm.shutdown();
  emit({ event: 'shutdown' });
} catch (error) {
  const e = error as Error & { kind?: string; logPath?: string; consoleTail?: string };
  emit({ event: 'error', name: e.name, kind: e.kind, message: e.message, logPath: e.logPath });
  code = ac.signal.aborted ? 130 : 3;
} finally {
  const failures = await ctx.teardown.runAll();
  for (const f of failures) emit({ event: 'teardown-failure', name: f.name, error: String(f.error) });
}
process.exit(code);
