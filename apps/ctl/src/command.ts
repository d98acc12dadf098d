/**
 * One subcommand of `kontena-ipam-ctl`. Each lives in its own folder under apps/ctl/src and is
 * listed in commands.ts; main.ts parses nothing but the command's name and `--help`.
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
   * Loads Nest, etcd3 and dockerode itself, only when it is going to use them, so that `--help`
   * and usage errors answer at once.
   */
  run(args: readonly string[]): Promise<number>;
}

/** Exit statuses of every ctl command (documented in docs/ctl.md). */
export const EXIT = {
  /** Done; nothing wrong found. */
  ok: 0,
  /** Done, and it found problems (a check violation, a conflict, an address in use). */
  problems: 1,
  /** Bad usage or configuration: nothing was read or changed. */
  usage: 2,
  /** etcd did not answer within ETCD_WAIT_TIMEOUT: nothing was changed. */
  etcdUnreachable: 3,
} as const;
