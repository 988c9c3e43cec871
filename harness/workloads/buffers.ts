// What each workload buffer kind is made of: the addon's allocation, whether a fork makes it
// copy-on-write shared before each I/O, and whether it must be huge-page backed to mean anything.
// Pure: the engine (guest), the verdict and the config requirements read it.
import type { BufferKind } from './types.js';
import type { AlignedBufferKind } from './addon.js';

export interface BufferBacking {
  /** the AlignedBuffer kind the addon allocates */
  allocation: AlignedBufferKind;
  /** fork before each I/O (the pin must unshare, or break copy-on-write) */
  cowShared: boolean;
  /** transparent huge pages: a buffer without one tested small pages again */
  thp: boolean;
}

export function bufferBacking(kind: BufferKind): BufferBacking {
  switch (kind) {
    case 'cow-shared':
      return { allocation: 'anon', cowShared: true, thp: false };
    case 'thp-cow-shared':
      return { allocation: 'thp', cowShared: true, thp: true };
    case 'hugetlb-1g-cow-shared':
      return { allocation: 'hugetlb-1g', cowShared: true, thp: false };
    case 'thp':
      return { allocation: 'thp', cowShared: false, thp: true };
    default:
      return { allocation: kind, cowShared: false, thp: false };
  }
}
