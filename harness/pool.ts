// Several jobs at once, at most K, results in the order of the inputs; and a gate that lets one
// job at a time through a section (kernel builds: two `make -j` at once would only share the
// cores). Pure scheduling: no processes of its own.

/** fn over every item, at most `k` at a time; results in the items' order. The first rejection is thrown once all have ended. */
export async function runPool<T, R>(items: readonly T[], k: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failure) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!, i);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(k, items.length)) }, worker));
  if (failure) throw failure.error;
  return results;
}

/** A section one caller at a time runs, in the order they asked. */
export function serialGate(): <T>(fn: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => undefined);
    return run;
  };
}

/** Items dealt over `k` lanes round-robin, keeping each lane in the items' order (empty lanes dropped). Pure. */
export function dealLanes<T>(items: readonly T[], k: number): T[][] {
  const lanes: T[][] = Array.from({ length: Math.max(1, k) }, () => []);
  items.forEach((item, i) => lanes[i % lanes.length]!.push(item));
  return lanes.filter((l) => l.length > 0);
}
