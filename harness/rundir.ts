// The run directory: every file a run leaves, with its type, and the one reader and writer of
// each. pipeline.ts writes it; parse, repro, the reports and bench read it back, so a field
// written here is read with the same type everywhere (meta.json had four private readers).
//
//   run.json                   RunResult (report/json.ts serializes and checks it)
//   meta.json                  RunMeta: the request, the run's facts (background, control, stalls)
//   observations/<name>.json   one WorkloadObservation per workload that ran
//   logs/                      build.log, runner.log (runner-N.log for a fresh guest N)
//   vm/ (vm-N/)                the guest's console, QEMU's argv and log, its disks
//   kernel/                    the kernel that ran: meta.json (KernelMeta), config, patches, coverage/
//   coverage/                  pinlab run --coverage: gcda per workload, summary.json, html/
//   check.json                 pinlab check's decision
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from './errors.js';
import type { KernelMeta } from './kernel/build.js';
import type { KernelRequest, KernelStepsMs } from './kernel/index.js';
import { parseRunJson, toRunJson } from './report/json.js';
import type { RunResult, Splat } from './verdict/types.js';
import type { BackgroundNoise, PinControl, PinEvidenceInfo, WorkloadObservation } from './workloads/types.js';

/** Names inside a run directory, for links and copies (reports, repro bundles). */
export const RUN_LAYOUT = {
  run: 'run.json',
  meta: 'meta.json',
  check: 'check.json',
  observations: 'observations',
  logs: 'logs',
  vm: 'vm',
  kernel: 'kernel',
  coverage: 'coverage',
  kernelMeta: 'kernel/meta.json',
  kernelConfig: 'kernel/config',
  buildLog: 'logs/build.log',
  runnerLog: 'logs/runner.log',
  console: 'vm/console.log',
  qemuArgv: 'vm/qemu-argv.json',
} as const;

/** The observation file of a workload, relative to the run directory. */
export const observationFile = (name: string): string => `${RUN_LAYOUT.observations}/${name}.json`;
/** The folder of guest N (vm/, then vm-N/ for a fresh guest after a stall), relative to the run directory. */
export const vmDirName = (guest: number): string => (guest === 1 ? RUN_LAYOUT.vm : `${RUN_LAYOUT.vm}-${guest}`);
/** The console log of guest N, relative to the run directory. */
export const consoleFile = (guest: number): string => `${vmDirName(guest)}/console.log`;
/** The runner's log of guest N (a fresh guest after a stall), relative to the run directory. */
export const runnerLogFile = (guest: number): string => (guest === 1 ? RUN_LAYOUT.runnerLog : `${RUN_LAYOUT.logs}/runner-${guest}.log`);

/** What the request of a run was, as meta.json records it. */
export type RecordedRequest = KernelRequest & { cmdline: string[]; strict: boolean; workloads: string[] };

/** Why the wait for a guest's runner ended before it finished. */
export interface Stall {
  /** the workload that had started and given no result (undefined: none had started) */
  name?: string;
  why: 'timeout' | 'splat' | 'guest-died';
  detail: string;
  splats: Splat[];
  /** the splat came while no workload ran (guest timestamps): after this one, before that one */
  between?: { after?: string; before?: string };
}

/** meta.json: the run's request and the facts its verdicts were judged with. */
export interface RunMeta {
  runId: string;
  startedAt: string;
  request: RecordedRequest;
  /** the kernel phase's steps, when it built (bench's fresh figure reads them) */
  kernelStepsMs?: KernelStepsMs;
  /** vms: the guests side by side (--vms), when more than one */
  vm?: { accel: string; argvFile: string; vms?: number };
  /** the first guest's pin evidence (calibration) */
  evidence?: PinEvidenceInfo;
  /** the pin-accounting control (judgeRun's rule 9), or why none ran */
  control?: PinControl | { skipped: string };
  /** every wait for a runner that ended early, with its guest's number */
  stalls?: ({ guest: number; vm?: number } & Stall)[];
  /** the idle-window pin noise every verdict is judged against */
  background: BackgroundNoise;
}

/** The run directory's folders a run writes into, made private to the user. */
export function makeRunDir(runDir: string): { logs: string; obs: string; vm: string; kernel: string } {
  const dirs = { logs: join(runDir, RUN_LAYOUT.logs), obs: join(runDir, RUN_LAYOUT.observations), vm: join(runDir, RUN_LAYOUT.vm), kernel: join(runDir, RUN_LAYOUT.kernel) };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true, mode: 0o700 });
  return dirs;
}

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new UserError(`${file} not found: not a pinlab run directory (${what})`);
    throw error;
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UserError(`${file} is not JSON: ${(error as Error).message.replace(/\s+/g, ' ')}`);
  }
}

const writeJson = (file: string, value: unknown): void => writeFileSync(file, JSON.stringify(value, null, 2));

export function writeRunJson(runDir: string, result: RunResult): void {
  writeFileSync(join(runDir, RUN_LAYOUT.run), toRunJson(result));
}

/** run.json, checked (report/json.ts); a UserError when there is none or it is no run. */
export function readRunJson(runDir: string): RunResult {
  const file = join(runDir, RUN_LAYOUT.run);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new UserError(`${file} not found: not a pinlab run directory`);
    throw error;
  }
  return parseRunJson(text, file);
}

/** run.json when the run wrote one (a child run that ended early may not); undefined otherwise. */
export function runJsonIfAny(runDir: string): RunResult | undefined {
  return existsSync(join(runDir, RUN_LAYOUT.run)) ? readRunJson(runDir) : undefined;
}

export function writeRunMeta(runDir: string, meta: RunMeta): void {
  writeJson(join(runDir, RUN_LAYOUT.meta), meta);
}

/** meta.json as the run wrote it (a UserError when it is missing or no JSON). */
export function readRunMeta(runDir: string): RunMeta {
  return readJson(join(runDir, RUN_LAYOUT.meta), 'meta') as RunMeta;
}

/** The background a run's verdicts are judged against; a run without one cannot be judged again. */
export function backgroundOf(runDir: string, meta: Pick<RunMeta, 'background'>): BackgroundNoise {
  const bg = (meta as Partial<RunMeta> | null)?.background;
  if (!bg || typeof bg.windowMs !== 'number' || typeof bg.acquired !== 'number' || typeof bg.released !== 'number') {
    throw new UserError(`${join(runDir, RUN_LAYOUT.meta)} has no background {windowMs, acquired, released}; cannot account for idle pins`);
  }
  return { windowMs: bg.windowMs, acquired: bg.acquired, released: bg.released };
}

/** meta.json when there is one, unchecked (bench reads one optional field of a child's run). */
export function runMetaIfAny(runDir: string): Partial<RunMeta> | undefined {
  const file = join(runDir, RUN_LAYOUT.meta);
  return existsSync(file) ? (readJson(file, 'meta') as Partial<RunMeta>) : undefined;
}

/** The control that ran, when one did (a skipped control or none: undefined). */
export function controlOf(meta: Pick<RunMeta, 'control'>): PinControl | undefined {
  const c = (meta as Partial<RunMeta> | null)?.control as Partial<PinControl> | undefined;
  if (!c || typeof c.ok !== 'boolean' || typeof c.message !== 'string') return undefined;
  return c as PinControl;
}

export function writeObservation(runDir: string, obs: WorkloadObservation): void {
  writeJson(join(runDir, observationFile(obs.spec.name)), obs);
}

/** Every observation of the run, in file name order; none when the folder is missing. */
export function readObservations(runDir: string): WorkloadObservation[] {
  const dir = join(runDir, RUN_LAYOUT.observations);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const obs = readJson(join(dir, f), 'observation') as Partial<WorkloadObservation> | null;
      if (!obs?.spec || typeof obs.spec.name !== 'string') throw new UserError(`${join(dir, f)} is not a workload observation (no spec.name)`);
      return obs as WorkloadObservation;
    });
}

/** The first guest's QEMU argv (meta.json's vm.argvFile names it). */
export function writeQemuArgv(runDir: string, argv: readonly string[]): void {
  writeJson(join(runDir, RUN_LAYOUT.qemuArgv), argv);
}

export function writeKernelMeta(runDir: string, meta: KernelMeta): void {
  writeJson(join(runDir, RUN_LAYOUT.kernelMeta), meta);
}

/** The kernel that ran, when the run got as far as a kernel. */
export function readKernelMeta(runDir: string): KernelMeta | undefined {
  const file = join(runDir, RUN_LAYOUT.kernelMeta);
  return existsSync(file) ? (readJson(file, 'kernel meta') as KernelMeta) : undefined;
}
