// JSON Schema (draft-07) of 'pinlab.run/1', the --json output and the run directory's run.json.
// It mirrors harness/verdict/types.ts, whose arrays give its enums (statuses, reasons, causes,
// splat kinds); a test checks a sample run against it and that run.schema.json (for consumers
// outside pinlab) is this object verbatim.
// A change that adds or renames a field bumps the schema id to pinlab.run/2.

import { ERROR_CAUSES, FAIL_REASONS, PINNINGS, SPLAT_KINDS, STATUSES } from '../verdict/types.js';
import { CALIBRATION_STATES } from '../workloads/types.js';

export const RUN_SCHEMA_ID = 'pinlab.run/1';

export const RUN_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://pinlab.invalid/schema/pinlab.run-1.json',
  title: 'pinlab run result',
  description: 'Everything one pinlab run concluded about one kernel: a verdict per workload with the numbers behind it.',
  type: 'object',
  required: ['schema', 'runId', 'startedAt', 'kernel', 'host', 'verdicts', 'strict'],
  additionalProperties: false,
  properties: {
    schema: { const: RUN_SCHEMA_ID },
    runId: { type: 'string', minLength: 1 },
    startedAt: { type: 'string', format: 'date-time' },
    finishedAt: { type: 'string', format: 'date-time' },
    kernel: { $ref: '#/definitions/kernel' },
    host: {
      type: 'object',
      required: ['accel', 'node'],
      additionalProperties: false,
      properties: { accel: { type: 'string' }, qemu: { type: 'string' }, node: { type: 'string' } },
    },
    verdicts: { type: 'array', items: { $ref: '#/definitions/verdict' } },
    strict: { type: 'boolean', description: 'XFAIL counted as failure (--strict)' },
    coverage: { $ref: '#/definitions/coverage' },
    evidence: { $ref: '#/definitions/evidence' },
  },
  definitions: {
    evidence: {
      type: 'object',
      description: 'how the pins were counted (harness/verdict/calibration.ts): the evidence, the calibration sources FOLL_PIN was taken from, the sources that did not add up (each also a FAIL verdict calibration.<source>), and how many workloads each kind of evidence judged',
      required: ['mechanism', 'agreed', 'findings', 'calibration', 'judgedBy'],
      additionalProperties: false,
      properties: {
        mechanism: { type: 'string', description: "'kprobe-hist', or 'none' (see unavailable)" },
        unavailable: { type: 'string' },
        follPin: { type: 'integer' },
        probes: { type: 'array', items: { type: 'string' } },
        grabsCounted: { type: 'string', description: "'on success' (return probes) or 'at entry (why)'" },
        vmstatBlind: { type: 'array', items: { type: 'string' }, description: 'pin primitives on this kernel that nr_foll_pin_acquired does not count' },
        agreed: { type: 'array', items: { type: 'string' } },
        findings: { type: 'array', items: { type: 'string' } },
        calibration: {
          type: 'array',
          items: {
            type: 'object',
            required: ['source', 'path', 'pages', 'state'],
            additionalProperties: false,
            properties: {
              source: { type: 'string' },
              path: { type: 'string' },
              pages: { type: 'integer' },
              state: { enum: [...CALIBRATION_STATES] },
              acquired: { type: 'integer' },
              released: { type: 'integer' },
              vmstatAcquired: { type: 'integer' },
              vmstatReleased: { type: 'integer' },
              why: { type: 'string' },
            },
          },
        },
        judgedBy: { type: 'object', additionalProperties: { type: 'integer' }, description: 'workloads by what judged their pins: kprobe-hist, vmstat, none' },
      },
    },
    ratio: {
      type: 'object',
      required: ['hit', 'total'],
      additionalProperties: false,
      properties: { hit: { type: 'integer', minimum: 0 }, total: { type: 'integer', minimum: 0 } },
    },
    coverage: {
      type: 'object',
      description: 'pinlab run --coverage: what the workloads ran of the pin-path sources (gcov counts, or function hits from the function tracer on kernels without gcov; the full site list is in coverage/summary.json)',
      required: ['method', 'files', 'total', 'pinFunctionLines', 'sites', 'notReached', 'tracefile'],
      additionalProperties: false,
      properties: {
        method: { enum: ['gcov', 'ftrace'] },
        files: {
          type: 'array',
          items: {
            type: 'object',
            required: ['file', 'lines', 'functions', 'branches'],
            additionalProperties: false,
            properties: { file: { type: 'string' }, lines: { $ref: '#/definitions/ratio' }, functions: { $ref: '#/definitions/ratio' }, branches: { $ref: '#/definitions/ratio' } },
          },
        },
        total: {
          type: 'object',
          required: ['lines', 'functions', 'branches'],
          additionalProperties: false,
          properties: { lines: { $ref: '#/definitions/ratio' }, functions: { $ref: '#/definitions/ratio' }, branches: { $ref: '#/definitions/ratio' } },
        },
        pinFunctionLines: { $ref: '#/definitions/ratio' },
        pinFunctions: { $ref: '#/definitions/ratio' },
        sites: {
          type: 'object',
          required: ['total', 'reached', 'unreachable', 'notReached'],
          additionalProperties: false,
          properties: { total: { type: 'integer' }, reached: { type: 'integer' }, unreachable: { type: 'integer' }, notReached: { type: 'integer' }, untraceable: { type: 'integer' } },
        },
        notReached: { type: 'array', items: { type: 'string' }, description: 'reachable pin sites no workload ran (file:function:callee)' },
        tracefile: { type: 'string' },
        html: { type: 'string' },
        htmlProblem: { type: 'string' },
      },
    },
    kernel: {
      type: 'object',
      required: ['source', 'patches'],
      additionalProperties: false,
      properties: {
        profile: { type: 'string' },
        source: { type: 'string', minLength: 1 },
        release: { type: 'string' },
        patches: {
          type: 'array',
          items: {
            type: 'object',
            required: ['file', 'sha256'],
            additionalProperties: false,
            properties: { file: { type: 'string' }, sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' } },
          },
        },
        patchsetHash: { type: 'string', pattern: '^$|^[0-9a-f]{64}$' },
        configSha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
        buildKey: { type: 'string' },
      },
    },
    numbers: {
      type: 'object',
      required: ['acquired', 'released', 'expectedPins', 'background', 'userPageOps', 'bytes'],
      additionalProperties: false,
      properties: {
        acquired: { type: 'number' },
        released: { type: 'number' },
        expectedPins: { type: 'number' },
        background: { type: 'number' },
        userPageOps: { type: 'number' },
        bytes: { type: 'number' },
        iops: { type: 'number' },
        evidence: { type: 'string', description: "what judged the pins: 'kprobe-hist' (the kernel's pin primitives), 'vmstat', or 'none' (neither can: ERROR evidence)" },
        vmstatAcquired: { type: 'number' },
        vmstatReleased: { type: 'number' },
        uncountedPins: { type: 'number', description: 'pins the evidence saw that nr_foll_pin_acquired did not count (a finding, not a failure)' },
        uncountedReleases: { type: 'number' },
        pagesMigrated: { type: 'number', description: 'pages the kernel migrated in the workload window: a long-term pin of ZONE_MOVABLE pages unpins, migrates and pins again' },
      },
    },
    splat: {
      type: 'object',
      required: ['kind', 'title', 'lines'],
      additionalProperties: false,
      properties: {
        kind: { enum: [...SPLAT_KINDS] },
        title: { type: 'string' },
        lines: { type: 'array', items: { type: 'string' } },
      },
    },
    verdict: {
      type: 'object',
      required: ['name', 'target', 'engine', 'status', 'reasons', 'path', 'pinning', 'splats', 'message'],
      additionalProperties: false,
      properties: {
        name: { type: 'string', minLength: 1 },
        target: { type: 'string' },
        engine: { type: 'string' },
        status: { enum: [...STATUSES] },
        reasons: { type: 'array', items: { enum: [...FAIL_REASONS] } },
        cause: { enum: [...ERROR_CAUSES] },
        skipReason: { type: 'string' },
        knownState: { type: 'string' },
        path: { type: 'array', items: { type: 'string' } },
        pinning: { enum: [...PINNINGS] },
        numbers: { $ref: '#/definitions/numbers' },
        splats: { type: 'array', items: { $ref: '#/definitions/splat' } },
        message: { type: 'string' },
        // The guest runner's raw record (harness/workloads/types.ts), kept so `pinlab parse`
        // can re-judge; its shape belongs to the workload contract, not to this schema.
        observation: { type: 'object', required: ['spec'] },
      },
      allOf: [
        {
          if: { properties: { status: { enum: ['FAIL', 'XFAIL'] } } },
          then: { properties: { reasons: { minItems: 1 } } },
        },
        { if: { properties: { status: { const: 'XFAIL' } } }, then: { required: ['knownState'] } },
        { if: { properties: { status: { const: 'ERROR' } } }, then: { required: ['cause'] } },
        { if: { properties: { status: { const: 'SKIP' } } }, then: { required: ['skipReason'] } },
      ],
    },
  },
} as const;
