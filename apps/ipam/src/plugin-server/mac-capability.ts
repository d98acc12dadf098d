import { existsSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { LoggerService } from '@nestjs/common';

const LOG_CONTEXT = 'PluginServer';

/**
 * Whether the dockerd that uses this socket was told `RequiresMACAddress: true`, and so sends a
 * container's MAC with each RequestAddress: only then is a static request without options an
 * `--aux-address` (README, "Addresses"). dockerd asks GetCapabilities once per lifetime of its
 * own, when it first uses the driver (moby/moby pkg/plugins/plugins.go): a dockerd that activated
 * an older version of the plugin goes on sending `--ip` requests without options after an
 * upgrade, and those must stay single containers' addresses. So the answer is remembered in a
 * marker file beside the socket, which outlives a restart of the plugin as the socket's directory
 * does (a tmpfs: a reboot restarts dockerd too); without it, requests without options are
 * endpoints' until dockerd asks again (it restarts, or a managed plugin is enabled again).
 */
export class MacCapability {
  private told: boolean;

  constructor(
    readonly markerPath: string,
    private readonly logger: LoggerService,
  ) {
    this.told = existsSync(markerPath);
  }

  /** The marker of the plugin listening on `socketPath`: `.<socket file name>.mac` beside it. */
  static beside(socketPath: string, logger: LoggerService): MacCapability {
    return new MacCapability(join(dirname(socketPath), `.${basename(socketPath)}.mac`), logger);
  }

  /** dockerd sends MACs: a static request without options is an aux address. */
  get dockerSendsMacs(): boolean {
    return this.told;
  }

  /** GetCapabilities was answered: this dockerd sends MACs from now on, for its lifetime. */
  answered(): void {
    if (this.told) {
      return;
    }
    this.told = true;
    try {
      writeFileSync(this.markerPath, `${JSON.stringify({ RequiresMACAddress: true })}\n`);
    } catch (e) {
      this.logger.warn(
        `could not write ${this.markerPath} (${e instanceof Error ? e.message : String(e)}): after a restart of the plugin, --aux-address works on one host of a shared network only, until dockerd restarts`,
        LOG_CONTEXT,
      );
    }
  }
}
