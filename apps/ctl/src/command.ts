/**
 * One subcommand of `kontena-ipam-ctl`. Each lives in its own folder under apps/ctl/src, is
 * built by defineCommand (define-command.ts) and listed in commands.ts; main.ts parses nothing
 * but the command's name and `--help`.
 */
export interface CtlCommand {
  /** The word after `kontena-ipam-ctl`. */
  readonly name: string;
  /** One line for `kontena-ipam-ctl --help`. */
  readonly summary: string;
  /** The whole text of `kontena-ipam-ctl NAME --help`, ending in a newline. */
  readonly usage: string;
  /**
   * Runs the command with the arguments after its name; resolves to the exit status (EXIT).
   * Loads Nest, etcd3 and dockerode only when it is going to use them, so that `--help` and
   * usage errors answer at once. `io` defaults to the process's streams and environment.
   */
  run(args: readonly string[], io?: CtlIo): Promise<number>;
}

/** The environment a command reads its configuration from (NODE_ID, ETCD_*, …). */
export type Env = Readonly<Record<string, string | undefined>>;

/** Where a command writes: its report on stdout, why it failed on stderr (text, with newlines). */
export interface CtlOutput {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** Where a command writes and what environment it reads (undefined: the process's). */
export interface CtlIo {
  output: CtlOutput;
  env?: Env;
}

/** One run of a command: its IO and its name, which starts every message it writes to stderr. */
export interface CtlRun extends CtlIo {
  name: string;
}

export const PROCESS_IO: CtlIo = {
  output: {
    stdout: (text) => {
      process.stdout.write(text);
    },
    stderr: (text) => {
      process.stderr.write(text);
    },
  },
};

/** `kontena-ipam-ctl NAME: message` on the run's stderr. */
export function complain(run: CtlRun, message: string): void {
  run.output.stderr(`kontena-ipam-ctl ${run.name}: ${message}\n`);
}

/** Exit statuses of every ctl command (documented in docs/ctl.md). */
export const EXIT = {
  /** Done; nothing wrong found. */
  ok: 0,
  /** Done, and it found problems (a check violation, a conflict, an address in use). */
  problems: 1,
  /** Bad usage or configuration: nothing was read or changed. */
  usage: 2,
  /** etcd did not answer within ETCD_WAIT_TIMEOUT: nothing more was changed. */
  etcdUnreachable: 3,
} as const;
