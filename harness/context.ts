// One run's shared state: the AbortSignal every child process listens to, and the teardown stack.
// Teardown is registered *before* the setup it undoes, so a setup that fails half-way still
// gets cleaned up; teardowns run in reverse order, each at most once, errors collected.

import { setMaxListeners } from 'node:events';

export type Teardown = () => Promise<void> | void;

export class TeardownStack {
  private readonly items: { name: string; fn: Teardown }[] = [];

  /** Register before acting. Returns a function that runs (and removes) just this teardown. */
  add(name: string, fn: Teardown): () => Promise<void> {
    const item = { name, fn };
    this.items.push(item);
    return async () => {
      const i = this.items.indexOf(item);
      if (i >= 0) {
        this.items.splice(i, 1);
        await fn();
      }
    };
  }

  get size(): number {
    return this.items.length;
  }

  /** Run all teardowns, newest first. Never throws; returns the failures. */
  async runAll(): Promise<{ name: string; error: unknown }[]> {
    const failures: { name: string; error: unknown }[] = [];
    while (this.items.length > 0) {
      const item = this.items.pop()!;
      try {
        await item.fn();
      } catch (error) {
        failures.push({ name: item.name, error });
      }
    }
    return failures;
  }
}

export interface RunContext {
  signal: AbortSignal;
  teardown: TeardownStack;
  verbose: boolean;
  /** progress/log sink for the terminal (phase lines); files get the full logs */
  log: (message: string) => void;
}

/**
 * Every VM, step and wait of a run listens on the one signal; with several VMs at once (--vms)
 * that passes node's default of 10 listeners, and its leak warning would be noise.
 */
function listenable(signal: AbortSignal): AbortSignal {
  setMaxListeners(256, signal);
  return signal;
}

export function createContext(opts: { signal?: AbortSignal; verbose?: boolean; log?: (m: string) => void } = {}): RunContext {
  return {
    signal: listenable(opts.signal ?? new AbortController().signal),
    teardown: new TeardownStack(),
    verbose: opts.verbose ?? false,
    log: opts.log ?? ((m) => process.stderr.write(`${m}\n`)),
  };
}
