// The verdict layer: observations -> verdicts, known states, kernel log classification.
export { judge, pathEvidence, expectedErrnos, type JudgeContext, type PathEvidence, type GroupState } from './judge.js';
export { classifyKernelLog, stripLogPrefix } from './dmesg.js';
export { applyKnownStates, knownStatesFor, KNOWN_STATES, type KnownState, type KernelMatch } from './known-states.js';
