import { checkCommand } from './check/check.command.js';
import type { CtlCommand } from './command.js';
import { importV2Command } from './import-v2/import-v2.command.js';
import { releaseCommand } from './release/release.command.js';
import { repairCommand } from './repair/repair.command.js';
import { showCommand } from './show/show.command.js';

/** Every command of kontena-ipam-ctl, in the order `--help` lists them. */
export const COMMANDS: readonly CtlCommand[] = [
  showCommand,
  checkCommand,
  releaseCommand,
  repairCommand,
  importV2Command,
];
