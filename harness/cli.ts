// pinlab's command line, and the one place that sets the exit code (harness/outcome.ts maps):
// 0 all passed, 1 a test failed, 2 usage error, 3 infrastructure (host/build/boot), 4 nothing
// ran, 130 interrupted. User-caused errors print one line (and a hint); --verbose adds the stack.
import { Command, CommanderError, Option } from 'commander';
import { createContext, type RunContext } from './context.js';
import { parseSourceArg, profileNames, DEFAULT_PROFILE } from './config.js';
import { InterruptedError, UserError } from './errors.js';
import * as commands from './commands.js';
import { describeError, EXIT, exitCodeFor, exitCodeForError, type Outcome } from './outcome.js';
import * as imageCommands from './image-commands.js';
import { check } from './bisect/check.js';
import { bisect, bisectRequest } from './bisect/bisect.js';
import { bisectImagesCommand } from './bisect/images.js';
import { repro } from './repro/repro.js';
import { kcidbArg, perKernelArg } from './report/kcidb-options.js';
import { bench } from './bench/bench.js';
import { mutate } from './mutate/mutate.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];
const positiveInt = (name: string) => (v: string) => {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1) throw new UserError(`${name} ${v}: expected a positive integer`);
  return n;
};

function kernelOptions(cmd: Command, multiProfile = false): Command {
  return cmd
    .addOption(
      multiProfile
        ? new Option('-p, --profile <name>', `kernel profile (repeatable): ${profileNames().join(', ')}`).argParser(collect)
        : new Option('-p, --profile <name>', `kernel profile: ${profileNames().join(', ')} (default ${DEFAULT_PROFILE})`),
    )
    .option('-s, --source <src>', 'any kernel: a directory, or git:REPO@REF')
    .option('--kernel <file>', 'a prebuilt bzImage/vmlinuz, booted as shipped (its config-RELEASE beside it decides what can run)')
    .option('--modules <dir>', "the --kernel's lib/modules/RELEASE tree (drivers the guest loads with modprobe)")
    .option('--patch <file>', 'extra patch applied after the profile series (repeatable)', collect)
    .option('--config-fragment <file>', 'extra kconfig fragment (repeatable)', collect)
    .option('--cmdline <args>', 'extra kernel command line arguments')
    .option('-j, --jobs <n>', 'make -j', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new UserError(`--jobs ${v}: expected a positive integer`);
      return n;
    });
}

/** The report files; the same on `run`, `parse` and `merge`, so a saved run renders like a live one. */
function reportOptions(cmd: Command, json = 'write the full result as JSON (run.json)'): Command {
  return kcidbOptions(
    cmd
      .option('--json <file>', json)
      .option('--junit <file>', 'write JUnit XML')
      .option('--ktap [file]', 'write KTAP to the file, or alone: KTAP is all stdout carries (the rest goes to stderr)')
      .option('--kcidb <file>', 'write KCIDB v5.3 JSON'),
  );
}

/** KCIDB options only shape the KCIDB file: without --kcidb they would be ignored silently. */
function requireKcidbFile(cmd: Command): void {
  if (cmd.opts().kcidb !== undefined) return;
  const given = cmd.options.filter((o) => o.long?.startsWith('--kcidb-') || o.long === '--run-id').filter((o) => cmd.getOptionValueSource(o.attributeName()) === 'cli');
  if (given.length > 0) throw new UserError(`${given.map((o) => o.long).join(', ')} only shape the KCIDB file: add --kcidb FILE`);
}

/** Where the KCIDB file points and how its objects are named. */
function kcidbOptions(cmd: Command): Command {
  const perKernel = 'repeatable; PROFILE=VALUE for one profile of a matrix';
  return cmd
    .option('--kcidb-origin <origin>', 'KCIDB origin agreed with KernelCI, one per submitter (default pinlab)', kcidbArg.origin)
    .addOption(
      new Option('--run-id <id>', 'the CI run these results belong to; shards sharing it land in one KCIDB checkout (default: unique per run)')
        .env('PINLAB_RUN_ID')
        .argParser(kcidbArg.runId),
    )
    .option('--kcidb-tree <name>', `KCIDB tree name, e.g. mainline (default: the profile; ${perKernel})`, perKernelArg(kcidbArg.tree))
    .option('--kcidb-git-url <url>', `https:// URL of the kernel's git repository (${perKernel})`, perKernelArg(kcidbArg.gitUrl))
    .option('--kcidb-git-branch <branch>', `the repository branch (${perKernel})`, perKernelArg(kcidbArg.branch))
    .option('--kcidb-git-commit <sha>', `the commit the source is, for sources without one (${perKernel})`, perKernelArg(kcidbArg.commit))
    .option('--kcidb-artifacts-url <url>', 'URL where the current directory is published: links logs, config and patches of the run directories', kcidbArg.artifactsUrl);
}

export function buildProgram(ctxFactory: (verbose: boolean) => RunContext, setOutcome: (o: Outcome) => void): Command {
  const program = new Command('pinlab')
    .description('Does this kernel\'s Direct I/O pin user pages (FOLL_PIN) correctly, on every path?')
    .option('-v, --verbose', 'show stacks and full command output')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  const ctx = () => ctxFactory(Boolean(program.opts().verbose));
  const src = (o: { source?: string; kernel?: string; modules?: string }) => {
    if (o.kernel !== undefined) {
      if (o.source !== undefined) throw new UserError('--source and --kernel are exclusive: build a kernel or boot a prebuilt one');
      return { kind: 'image' as const, image: { kind: 'file' as const, kernel: o.kernel, ...(o.modules ? { modules: o.modules } : {}) } };
    }
    if (o.modules !== undefined) throw new UserError('--modules goes with --kernel');
    return o.source !== undefined ? parseSourceArg(o.source) : undefined;
  };

  program
    .command('doctor')
    .description('check host prerequisites and acceleration; print how to install what is missing')
    .option('-p, --profile <name>', 'also check what this profile needs (repeatable)', collect)
    .action(async (o) => setOutcome(await commands.doctor(ctx(), { profiles: o.profile })));

  program
    .command('setup')
    .description('install missing Debian packages (as root), or print the command and exit 3')
    .option('-p, --profile <name>', 'profiles to prepare for (repeatable; default: all)', collect)
    .option('--dry-run', 'print the apt-get commands only')
    .action(async (o) => setOutcome(await commands.setup(ctx(), { profiles: o.profile, dryRun: Boolean(o.dryRun) })));

  kernelOptions(program.command('build').description('build (or fetch from the cache) the kernel of a profile or source'))
    .option('--dry-run', 'print every planned command as an argv array; build nothing')
    .option('--json <file>', 'write the kernel built (bzImage path, cache key, release, cache hit) as JSON')
    .action(async (o) => setOutcome(await commands.build(ctx(), { ...o, source: src(o) })));

  const run = kernelOptions(program.command('run').description('the main job: prerequisites, build, boot, workloads, verdicts'), true)
    .option('--dry-run', 'print every planned command as an argv array; run nothing')
    .option('-f, --filter <pattern>', 'only workloads whose name matches (glob, comma-separated)')
    .option('--hw <name>', 'add the workloads of a hardware variant (repeatable; all: every variant; list: pinlab hw)', collect)
    .option('--shard <k/n>', 'run shard k of n (1-based)')
    .option('--strict', 'known states of reference kernels fail the run too')
    .option('--run-dir <dir>', 'where to keep this run (default: runs/<id>)')
    .option('--coverage', 'instrument the pin-path objects with gcov (a kernel build of its own) and report what each workload ran')
    .option('--vms <k>', 'VMs at once: the kernels of a matrix side by side, or one kernel\'s suite split over K guests (default: pinlab doctor)', positiveInt('--vms'));
  reportOptions(run)
    .option('--no-setup', 'never install packages, even as root')
    .action(async (o, cmd: Command) => {
      requireKcidbFile(cmd);
      setOutcome(await commands.run(ctx(), { ...o, source: src(o) }));
    });

  kernelOptions(program.command('boot').description('boot the kernel and open a shell, or run one command: pinlab boot -- CMD...'))
    .argument('[cmd...]', 'command to run in the guest')
    .option('--dry-run', 'print the planned commands (build and QEMU argv)')
    .action(async (cmd: string[], o) => setOutcome(await commands.boot(ctx(), { ...o, source: src(o), cmd })));

  program
    .command('hw')
    .description('the hardware variants (--hw NAME): QEMU devices, what each exercises, its workloads')
    .option('--json', 'as JSON')
    .action(async (o) => setOutcome(commands.hw({ json: Boolean(o.json) })));

  program
    .command('kernels')
    .description("Debian's prebuilt kernel images apt offers (for -p debian-image:PACKAGE and pinlab sweep)")
    .option('--series <x.y>', 'only this series, e.g. 6.1 or 6.12')
    .option('--flavour <f>', 'only this flavour: amd64, cloud-amd64, rt-amd64')
    .option('--all', 'also the -unsigned packages (the same kernels)')
    .action(async (o) => setOutcome(await imageCommands.kernels(ctx(), o)));

  program
    .command('sweep')
    .description('run the suite on every Debian image version of a series; table of verdicts, first version where any changed')
    .requiredOption('--series <x.y,...>', 'series, e.g. 6.1 or 6.1,6.12')
    .option('--flavour <f,...>', 'amd64 (default), cloud-amd64, rt-amd64, or several, comma-separated', 'amd64')
    .option('-f, --filter <pattern>', 'only workloads whose name matches (glob, comma-separated)')
    .option('--last <n>', 'only the newest n versions of each series', positiveInt('--last'))
    .option('--vms <k>', 'images side by side, K VMs at once (default: pinlab doctor)', positiveInt('--vms'))
    .option('--cmdline <args>', 'extra kernel command line arguments')
    .option('--strict', 'known states count as failures')
    .option('--json <file>', 'write the table rows as JSON')
    .option('--coverage', 'function coverage of the pin-path sources from the function tracer, per image (shipped kernels have no gcov)')
    .action(async (o) => setOutcome(await imageCommands.sweepCommand(ctx(), o)));

  reportOptions(
    program
      .command('parse')
      .description('recompute every verdict from a saved run directory, without booting; render any report from it')
      .argument('<run-dir>')
      .option('--strict', 'known states fail too')
      .option('--coverage', "rebuild the coverage report from the run's saved counters"),
    'write the recomputed result as JSON (run.json)',
  ).action(async (dir: string, o, cmd: Command) => {
    requireKcidbFile(cmd);
    setOutcome(await commands.parse(ctx(), { runDir: dir, ...o }));
  });

  program
    .command('diff')
    .description('show which verdicts changed between two runs')
    .argument('<run-a>')
    .argument('<run-b>')
    .action(async (a: string, b: string) => setOutcome(await commands.diff(ctx(), { a, b })));

  reportOptions(
    program
      .command('merge')
      .description('merge shard results (run dirs or run.json files) into one report')
      .argument('<inputs...>')
      .option('-o, --output <file>', 'merged run.json (the same as --json)')
      .option('--coverage <dir>', "merge the shards' coverage counters into one report in DIR"),
    'write the merged result as JSON (run.json)',
  ).action(async (inputs: string[], o, cmd: Command) => {
    requireKcidbFile(cmd);
    setOutcome(await commands.merge(ctx(), { inputs, ...o }));
  });

  // `check` speaks the git bisect run protocol: every value is optional here so that commander
  // never rejects an argument itself (exit 2 would read as "bad"); check() validates and answers
  // a usage error with 255 (abort), build/boot/infra trouble with 125 (skip).
  program
    .command('check')
    .description('for git bisect run: run workloads R times on one kernel; exit 0 good, 1 bad, 125 skip, 255 usage error')
    .option('-p, --profile [name]', `kernel profile: ${profileNames().join(', ')} (default ${DEFAULT_PROFILE})`)
    .option('-s, --source [src]', 'any kernel: a directory, or git:REPO@REF (in git bisect run: git:REPO@BISECT_HEAD or @HEAD)')
    .option('--patch [file]', 'extra patch applied after the profile series (repeatable)', collect)
    .option('--config-fragment [file]', 'extra kconfig fragment (repeatable)', collect)
    .option('--cmdline [args]', 'extra kernel command line arguments')
    .option('-j, --jobs [n]', 'make -j')
    .option('-f, --filter [pattern]', 'the workloads that decide (glob, comma-separated)')
    .option('--repeat [n]', 'run the workloads n times in one boot (default 1)')
    .option('--bad-threshold [k]', 'bad when at least k repeats fail (default 1)')
    .option('--min-valid [m]', 'decide only when at least m repeats passed or failed (default ceil(n/2)); else 125')
    .option('--strict', 'known states of reference kernels count as failures')
    .option('--reason [reasons]', 'only FAILs with these reasons count as bad, e.g. pin-leak (comma-separated)')
    .option('--json [file]', 'write the decision and its evidence as JSON')
    .option('--run-dir [dir]', 'where to keep this run (default: runs/check-<id>)')
    .option('--coverage', "gcov on the pin-path objects: the step's run directory reports what its workloads covered")
    .allowUnknownOption()
    .allowExcessArguments()
    .action(async (o, cmd: Command) => setOutcome(await check(ctx(), o, cmd.args)));

  program
    .command('bisect')
    .description('find the first bad commit (git bisect in a clone under the cache), or the first bad Debian image version; pinlab check on each step')
    .option('-s, --source <git:REPO>', 'the repository to bisect (only read: bisect state lives in a clone under the cache)')
    .option('--images <pkg=ver,...>', 'bisect these prebuilt images instead, oldest first (see pinlab kernels)')
    .option('--series <x.y>', 'bisect every image of this series instead (with --flavour, default amd64)')
    .option('--flavour <f>', 'the flavour of --series: amd64, cloud-amd64, rt-amd64')
    .option('--good <ref>', 'a commit known to be good (images: a version; default the oldest)')
    .option('--bad <ref>', 'a commit known to be bad (images: a version; default the newest)')
    .option('-f, --filter <pattern>', 'the workloads that decide (glob, comma-separated)')
    .option('--repeat <n>', 'repeats per commit', positiveInt('--repeat'))
    .option('--bad-threshold <k>', 'bad when at least k repeats fail (default 1)', positiveInt('--bad-threshold'))
    .option('--min-valid <m>', 'decide only with at least m judged repeats (default ceil(n/2))', positiveInt('--min-valid'))
    .option('--strict', 'known states of reference kernels count as failures')
    .option('--reason <reasons>', 'only FAILs with these reasons make a commit bad, e.g. pin-leak')
    .option('--patch <file>', 'extra patch applied on every commit (repeatable)', collect)
    .option('--config-fragment <file>', 'extra kconfig fragment (repeatable)', collect)
    .option('--cmdline <args>', 'extra kernel command line arguments')
    .option('-j, --jobs <n>', 'make -j', positiveInt('--jobs'))
    .option('--verify-ends', 'check --bad and --good themselves first (two more steps)')
    .option('--coverage', "gcov on the pin-path objects at every step: each step's run directory reports what it covered")
    .option('--run-dir <dir>', 'where to keep the bisection (default: runs/bisect-<id>)')
    .option('--dry-run', 'print the planned commands; run nothing')
    .action(async (o) => {
      if (o.images || o.series) return setOutcome(await bisectImagesCommand(ctx(), o));
      if (!o.source || !o.good || !o.bad) throw new UserError('bisect needs --source git:REPO --good A --bad B (or --images / --series for prebuilt images)');
      setOutcome(await bisect(ctx(), bisectRequest(o), { runDir: o.runDir, dryRun: Boolean(o.dryRun) }));
    });

  program
    .command('repro')
    .description("run a saved run's failed cases again (same kernel, disks, fault rules); --bundle packs them; a .tar.zst replays a bundle")
    .argument('<run-dir-or-bundle>', 'a run directory, or a bundle made with --bundle')
    .option('--case <name>', 'the case to replay (repeatable; default: every case that did not pass)', collect)
    .option('--times <n>', 'replay n times in one boot', positiveInt('--times'))
    .option('--shell', 'open a shell in the guest before the case runs; the case runs when it exits')
    .option('--bundle', 'write a self-contained bundle of the run directory instead (needs -o)')
    .option('-o, --output <file>', 'the bundle to write (.tar.zst)')
    .option('--run-dir <dir>', 'where to keep the replay (default: runs/repro-<id>)')
    .option('-j, --jobs <n>', 'make -j, when the kernel has to be rebuilt', positiveInt('--jobs'))
    .action(async (target: string, o) => setOutcome(await repro(ctx(), { target, ...o })));

  kernelOptions(program.command('mutate').description('plant small pin bugs at every pin and unpin site, rebuild each incrementally, run the workloads that reach it: what would pinlab catch?'))
    .option('-f, --filter <pattern>', 'only mutants whose id matches: words of file, function, site or operator, or globs (comma-separated)')
    .option('--shard <k/n>', 'run shard k of n of the mutants (1-based; merge the reports with --merge)')
    .option('--max <n>', 'at most n mutants (after filter and shard)', positiveInt('--max'))
    .option('--coverage <run-dir>', 'a pinlab run --coverage directory of the same kernel (repeatable, for its shards): each mutant runs only the workloads that reached its lines', collect)
    .option('--out <dir>', 'where mutation.json and mutation.html go (default: beside the coverage report, or runs/mutate-<tree>)')
    .option('--json <file>', 'also write the report as JSON here')
    .option('--html <file>', 'also write the HTML page here')
    .option('--state <dir>', 'where the results of finished mutants are kept, for a rerun to resume (default: in the cache, per tree)')
    .option('--merge <reports...>', "merge shards' mutation.json files into one report (runs nothing)")
    .option('--dry-run', 'list the mutants (id, line, change); build nothing')
    .action(async (o) => setOutcome(await mutate(ctx(), { ...o, source: src(o), command: ['pinlab', ...process.argv.slice(2)].join(' ') })));

  program
    .command('bench')
    .description('measure boot, edit-to-verdict, suite time, addon vs fio and pinned vs stock (min/median/max of --repeat runs)')
    .option('-p, --profile <name>', 'profiles (repeatable): the first is measured, the first two are compared (default patched-6.1, stock-6.1)', collect)
    .option('--repeat <n>', 'runs per figure (default 5)', positiveInt('--repeat'))
    .option('--runtime <s>', 'seconds per I/O job (default 3)', positiveInt('--runtime'))
    .option('--only <figures>', 'comma-separated subset of boot,edit,suite,fio,pinned (the default: all five), fresh (empty caches to the first verdict: a cold import and build per repeat) and coverage (the suite with --coverage against the plain suite)')
    .option('--out <dir>', 'where bench.json, bench.txt and latency.svg go (default runs/bench-<id>)')
    .option('-j, --jobs <n>', 'make -j for kernel rebuilds', positiveInt('--jobs'))
    .action(async (o) => setOutcome(await bench(ctx(), o)));

  return program;
}

export async function main(argv: string[]): Promise<number> {
  const controller = new AbortController();
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\npinlab: ${sig}: stopping (tearing down)...\n`);
    controller.abort(new InterruptedError(`interrupted by ${sig}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let outcome: Outcome = { kind: 'ok' };
  let verbose = argv.includes('-v') || argv.includes('--verbose');
  let context: RunContext | undefined;
  const program = buildProgram(
    (v) => {
      verbose = v;
      context ??= createContext({ signal: controller.signal, verbose: v });
      return context;
    },
    (o) => (outcome = o),
  );
  let code: number;
  try {
    await program.parseAsync(argv, { from: 'user' });
    code = exitCodeFor(outcome);
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help / --version exit 0; anything else commander rejects is a usage error
      code = e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    } else {
      process.stderr.write(`${describeError(e, verbose)}\n`);
      code = exitCodeForError(e);
    }
  } finally {
    const failures = (await context?.teardown.runAll()) ?? [];
    for (const f of failures) process.stderr.write(`pinlab: teardown '${f.name}' failed: ${String(f.error)}\n`);
  }
  if (interrupted) code = EXIT.interrupted;
  return code;
}
