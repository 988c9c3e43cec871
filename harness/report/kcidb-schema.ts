// The KCIDB I/O schema v5.3 (vendor/kcidb/) as TypeScript: the objects report/kcidb.ts makes and
// report/kcidb-merge.ts merges, and what a published run directory offers them to link.
export const KCIDB_VERSION = { major: 5, minor: 3 } as const;
export const KCIDB_LOG_EXCERPT_MAX = 16384;

export type KcidbStatus = 'FAIL' | 'ERROR' | 'MISS' | 'PASS' | 'DONE' | 'SKIP';

export interface KcidbResource {
  name: string;
  url: string;
}

export interface KcidbCheckout {
  id: string;
  origin: string;
  tree_name?: string;
  git_repository_url?: string;
  git_repository_branch?: string;
  git_commit_hash?: string;
  patchset_files?: KcidbResource[];
  patchset_hash?: string;
  comment?: string;
  start_time?: string;
  origin_tests_finish_time?: string;
  valid?: boolean;
  misc?: Record<string, unknown>;
}

export interface KcidbBuild {
  id: string;
  origin: string;
  checkout_id: string;
  start_time?: string;
  architecture?: string;
  config_name?: string;
  config_url?: string;
  compiler?: string;
  log_url?: string;
  status?: KcidbStatus;
  comment?: string;
  misc?: Record<string, unknown>;
}

export interface KcidbTest {
  id: string;
  origin: string;
  build_id: string;
  path?: string;
  status?: KcidbStatus;
  comment?: string;
  number?: { value: number; unit?: string; prefix?: 'metric' | 'binary' };
  duration?: number;
  start_time?: string;
  log_url?: string;
  log_excerpt?: string;
  output_files?: KcidbResource[];
  environment?: { comment?: string; misc?: Record<string, unknown> };
  misc?: Record<string, unknown>;
}

export interface KcidbIssue {
  id: string;
  version: number;
  origin: string;
  comment?: string;
  culprit?: { code?: boolean; tool?: boolean; harness?: boolean };
  misc?: Record<string, unknown>;
}

export interface KcidbIncident {
  id: string;
  origin: string;
  issue_id: string;
  issue_version: number;
  test_id?: string;
  build_id?: string;
  present?: boolean;
  comment?: string;
}

export interface KcidbReport {
  version: { major: number; minor?: number };
  checkouts?: KcidbCheckout[];
  builds?: KcidbBuild[];
  tests?: KcidbTest[];
  issues?: KcidbIssue[];
  incidents?: KcidbIncident[];
}

/** A run directory as it is published next to the report: what the KCIDB URLs point at. */
export interface KcidbRunFiles {
  /** RunResult.runId of the run that wrote the directory */
  runId: string;
  /** the workloads that run judged (a shard's share) */
  workloads: readonly string[];
  /** the directory as the command line named it (for messages) */
  path?: string;
  /** the directory relative to the published root (--kcidb-artifacts-url); absent when outside it */
  dir?: string;
  /** files in the directory, relative to it, '/'-separated: kernel/config, vm/console.log, ... */
  files: readonly string[];
  /** the compiler that built the kernel (kernel/meta.json) */
  compiler?: string;
  /** workloads that ran in a later guest (after a stall): its number; the rest ran in guest 1 */
  guests?: Readonly<Record<string, number>>;
}
