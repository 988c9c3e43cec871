// The boot-time protocol between the host and the guest's init (images/init): the words the host
// puts on the kernel command line and in the initrd, what init prints on the console, and where
// it puts the disks and shares. protocol.ts is what the guest's programs say after boot; this is
// what comes before. test/unit/boot-protocol.test.ts holds images/init to these names.
// Pure and import-free: host (vm/, kernel/) and guest (guest/runner.ts) code read it alike.

/** Kernel command-line words, `NAME=a,b,c`: init reads each with `param NAME` or a `case` arm. */
export const CMDLINE_WORDS = {
  /** SERIAL:NAME:FS per disk (FS raw|ext4|ext2|vfat): linked at diskDevice(NAME), mounted at diskMount(NAME) */
  disks: 'pinlab.disks',
  /** TAG:PATH per 9p share, mounted read-only */
  shares: 'pinlab.shares',
  /** on-demand modules of an image kernel to load (the kernel's own cpio ships them) */
  modules: 'pinlab.modules',
} as const;

/** One command-line word: `pinlab.disks=a,b`. */
export function cmdlineWord(word: keyof typeof CMDLINE_WORDS, values: readonly string[]): string {
  return `${CMDLINE_WORDS[word]}=${values.join(',')}`;
}

/** The console line init prints once sshd runs and the disks are mounted. */
export const READY_MARKER = 'PINLAB-READY';
/** Init's own log of its steps (`UPTIME STEP` a line), and the step it logs once it printed the marker. */
export const INIT_MARKS_FILE = '/run/pinlab-init.times';
export const READY_MARK = 'ready';

/** The prefix of a set-up problem init reports (a disk or share missing); not fatal by itself. */
export const INIT_FAILED_MARKER = 'PINLAB-INIT-FAILED:';
/** The virtio-serial port sshd listens on in the guest. */
export const SSH_PORT_NAME = 'pinlab.ssh';
/** In an image kernel's cpio: the modules init loads at boot, one a line. */
export const MODULES_LIST = '/etc/pinlab-modules';

/** Where init links the disk NAME (raw block I/O goes here). */
export const diskDevice = (name: string): string => `/dev/pinlab/${name}`;
/** Where init mounts the disk NAME when it has a file system. */
export const diskMount = (name: string): string => `/mnt/${name}`;

/** The repository's 9p share: the guest runs the harness (dist/) and the addon from here. */
export const REPO_TAG = 'pinlab';
export const REPO_GUEST_PATH = '/pinlab';
