// The KCIDB options: what a user says about the kernels (tree, repository, branch, commit, per
// profile or for all), the origin and the published artifacts, checked as cli.ts parses them.
import { UserError } from '../errors.js';
import type { KcidbRunFiles } from './kcidb-schema.js';

/**
 * One value for every kernel of the report, or per profile: entries "VALUE" and
 * "PROFILE=VALUE"; a profile's own entry wins over a bare one, and the last of each wins.
 */
export type PerKernel = string | readonly string[];

export interface KcidbOptions {
  /** KCIDB origin (the submitting CI system, agreed with KernelCI), [a-z0-9_]+; default pinlab */
  origin?: string;
  /** the run the ids are made from; default each RunResult's own runId */
  runId?: string;
  /** e.g. "mainline", "stable"; default the profile name */
  treeName?: PerKernel;
  /** the https:// URL of the source repository */
  gitRepositoryUrl?: PerKernel;
  gitRepositoryBranch?: PerKernel;
  /** the commit the source is; a git:REPO@SHA source gives its own */
  gitCommitHash?: PerKernel;
  /**
   * Base URL at which the directory the run directories are relative to (KcidbRunFiles.dir) is
   * published. Files (patches included) get URLs only when they are known to be there
   * (runFiles); without the URL the report links nothing.
   */
  artifactsUrl?: string;
  /** the run directories behind the results (read by run-files.ts) */
  runFiles?: readonly KcidbRunFiles[];
  architecture?: string;
}

/** Values of the KCIDB command-line options, checked as they are parsed (cli.ts). */
export const kcidbArg = {
  origin(v: string): string {
    if (!/^[a-z0-9_]+$/.test(v)) throw new UserError(`--kcidb-origin ${v}: a KCIDB origin is lower-case letters, digits and _`, { hint: 'use the origin KernelCI agreed with you' });
    return v;
  },
  runId(v: string): string {
    if (!/^[A-Za-z0-9._-]{1,128}$/.test(v)) throw new UserError(`run id ${JSON.stringify(v)}: expected 1-128 of A-Z a-z 0-9 . _ -`, { hint: 'e.g. --run-id gitlab-$CI_PIPELINE_ID (or PINLAB_RUN_ID)' });
    return v;
  },
  tree(v: string): string {
    if (v === '' || v.includes('\0')) throw new UserError('--kcidb-tree: expected a tree name, e.g. mainline or stable');
    return v;
  },
  gitUrl(v: string): string {
    if (!/^https:\/\/[^\0\s]+$/.test(v)) throw new UserError(`--kcidb-git-url ${v}: KCIDB takes an https:// repository URL`);
    return v;
  },
  branch(v: string): string {
    if (v === '' || v.includes('\0')) throw new UserError('--kcidb-git-branch: expected a branch name');
    return v;
  },
  commit(v: string): string {
    if (!/^[0-9a-f]{40}$/.test(v)) throw new UserError(`--kcidb-git-commit ${v}: expected a full 40-digit lower-case commit hash`);
    return v;
  },
  artifactsUrl(v: string): string {
    let url: URL | undefined;
    try {
      url = new URL(v);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
      throw new UserError(`--kcidb-artifacts-url ${v}: expected an http(s) URL`, { hint: 'e.g. GitLab: $CI_JOB_URL/artifacts/raw' });
    }
    return v;
  },
};

const PROFILE_ENTRY = /^([A-Za-z0-9._-]+)=(.*)$/s;

function perKernelEntry(entry: string): { profile?: string; value: string } {
  const m = PROFILE_ENTRY.exec(entry);
  return m ? { profile: m[1]!, value: m[2]! } : { value: entry };
}

/** A repeatable per-kernel option: checks the value part of "VALUE" or "PROFILE=VALUE". */
export function perKernelArg(check: (v: string) => string): (v: string, prev?: string[]) => string[] {
  return (v, prev = []) => {
    check(perKernelEntry(v).value);
    return [...prev, v];
  };
}

export function perKernelValue(p: PerKernel | undefined, profile: string | undefined): string | undefined {
  if (p === undefined) return undefined;
  const entries = (typeof p === 'string' ? [p] : p).map(perKernelEntry);
  let value: string | undefined;
  for (const e of entries) if (e.profile === undefined) value = e.value;
  for (const e of entries) if (e.profile !== undefined && e.profile === profile) value = e.value;
  return value;
}

/** The command-line options as commands.ts receives them from commander. */
export interface KcidbCliOptions {
  kcidbOrigin?: string;
  runId?: string;
  kcidbTree?: string[];
  kcidbGitUrl?: string[];
  kcidbGitBranch?: string[];
  kcidbGitCommit?: string[];
  kcidbArtifactsUrl?: string;
}

export function kcidbOptionsFrom(o: KcidbCliOptions, runFiles: readonly KcidbRunFiles[]): KcidbOptions {
  return {
    origin: o.kcidbOrigin,
    runId: o.runId,
    treeName: o.kcidbTree,
    gitRepositoryUrl: o.kcidbGitUrl,
    gitRepositoryBranch: o.kcidbGitBranch,
    gitCommitHash: o.kcidbGitCommit,
    artifactsUrl: o.kcidbArtifactsUrl,
    runFiles,
  };
}
