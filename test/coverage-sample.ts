// A tiny C program named like a pin path (mm/gup.c with a pin and an unpin call), compiled here
// with --coverage: real gcov notes and counters for the coverage tests, without a kernel.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const SAMPLE_SOURCE = `int unpin_user_page(int p) { return p; }
int pin_user_pages_fast(int p) { return p + 1; }

int release(int pinned, int p)
{
	if (pinned)
		return unpin_user_page(p);
	return pin_user_pages_fast(p);
}

int main(int argc, char **argv)
{
	return release(argc > 1, argc) == 7;
}
`;

/** Build dir/mm/gup once; run it once per argv list with zeroed counters (as the guest resets
 * them per workload); each run's .gcda path is returned after the run (moved aside). */
export function sampleCounters(dir: string, runs: string[][]): { gcno: string; gcda: string[] } {
  mkdirSync(join(dir, 'mm'), { recursive: true });
  writeFileSync(join(dir, 'mm/gup.c'), SAMPLE_SOURCE);
  execFileSync('gcc', ['-O0', '--coverage', '-o', 'mm/gup', 'mm/gup.c'], { cwd: dir });
  const gcda = runs.map((args, i) => {
    rmSync(join(dir, 'mm/gup.gcda'), { force: true });
    try {
      execFileSync(join(dir, 'mm/gup'), args, { cwd: dir });
    } catch {
      // the exit code is the program's answer
    }
    const kept = join(dir, `run-${i}`, 'mm/gup.gcda');
    mkdirSync(join(dir, `run-${i}`, 'mm'), { recursive: true });
    writeFileSync(kept, readFileSync(join(dir, 'mm/gup.gcda')));
    writeFileSync(kept.replace(/\.gcda$/, '.gcno'), readFileSync(join(dir, 'mm/gup.gcno')));
    return kept;
  });
  return { gcno: join(dir, 'mm/gup.gcno'), gcda };
}
