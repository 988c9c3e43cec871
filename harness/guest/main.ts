// The in-guest workload runner's entry point: `node /pinlab/dist/harness/guest/main.js < specs.json`.
// Reads a JSON array of WorkloadSpec on stdin, writes RunnerEvent lines (protocol.ts) on stdout
// and nothing else there.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { eventLine, parseRunnerInput, type RunnerEvent, type RunnerInput } from '../guest-runner/protocol.js';
import { errorInfo, runAll, type RunWorkloadIO } from './runner.js';
import { linuxGuest } from './linux.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function loadEngine(): Promise<RunWorkloadIO> {
  // resolved at run time: the engine module loads the native addon, which unit tests avoid
  const url = new URL('../workloads/engines.js', import.meta.url).href;
  try {
    const mod = (await import(url)) as { runWorkloadIO: RunWorkloadIO };
    return mod.runWorkloadIO;
  } catch (e) {
    const why = errorInfo(e).message;
    return async () => {
      throw new Error(`workload engine unavailable: ${why}`);
    };
  }
}

export async function main(): Promise<number> {
  const emit = (e: RunnerEvent): void => {
    process.stdout.write(eventLine(e));
  };
  const log = (message: string, name?: string): void => emit(name === undefined ? { type: 'log', message } : { type: 'log', name, message });
  let input: RunnerInput;
  try {
    input = parseRunnerInput(await readStdin());
  } catch (e) {
    log(`bad input: ${errorInfo(e).message}`);
    return 2;
  }
  await runAll(input.workloads, linuxGuest(log), await loadEngine(), emit, input.traceFunctions ? { traceFunctions: input.traceFunctions } : {});
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === realpathSync(process.argv[1])) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stdout.write(eventLine({ type: 'log', message: `runner crashed: ${errorInfo(e).message}` }));
      process.exitCode = 3;
    },
  );
}
