import { Prefix } from '#app/net';
import { CleanupStore, PlanStore } from '#app/store';

import {
  DockerodeNetworks,
  DockerUnavailable,
  type DockerNetworks,
} from '../../../cleanup/src/docker/docker-networks.js';
import { EXIT, type CtlRun } from '../command.js';
import { runInApp } from '../ctl-app.js';
import { CtlModule } from '../ctl.module.js';
import { describeUse, dockerUses } from '../docker-uses.js';
import { refuseRelease } from './release-decision.js';
import type { ReleaseRequest } from './release.command.js';

/** What a release needs: the stores, this host's Docker, this node's id, where it writes. */
export interface ReleaseDeps {
  plan: PlanStore;
  cleanup: CleanupStore;
  docker: DockerNetworks;
  nodeId: string;
  /** the result (stdout) and refusals and warnings (stderr, prefixed with the command) */
  out: (line: string) => void;
  err: (line: string) => void;
}

/** Runs a parsed `release` against etcd and this host's Docker. */
export function runRelease(request: ReleaseRequest, run: CtlRun): Promise<number> {
  return runInApp(
    run,
    (env) => CtlModule.forRoot([DockerodeNetworks], env),
    ({ app, config, out, complain }) =>
      releaseAddress(
        {
          plan: app.get(PlanStore),
          cleanup: app.get(CleanupStore),
          docker: app.get(DockerodeNetworks),
          nodeId: config.nodeId,
          out,
          err: complain,
        },
        request,
      ),
  );
}

/**
 * `release POOL ADDR`: reads the pool and the address, refuses what must not go (refuseRelease,
 * a use by this host's Docker unless --force), then deletes the address if it is unchanged.
 */
export async function releaseAddress(deps: ReleaseDeps, request: ReleaseRequest): Promise<number> {
  const { plan } = deps;
  const { pool, ip, force } = request;
  const address = ip.toString();
  const refused = (message: string): number => {
    deps.err(`${message}; nothing was released`);
    return EXIT.problems;
  };
  const { pool: stored } = await plan.readPool(pool, plan.deadline());
  if (!stored) {
    return refused(`pool ${pool} does not exist under ${plan.keys.root}`);
  }
  if (!Prefix.tryParse(stored.record.subnet)?.contains(ip)) {
    return refused(`${address} is not inside pool ${pool} (${stored.record.subnet})`);
  }
  const held = await plan.readAddress(pool, address, plan.deadline());
  if (!held) {
    deps.out(`${address} of pool ${pool} is already free: nothing to do`);
    return EXIT.ok;
  }
  const refusal = refuseRelease(pool, held, deps.nodeId, force);
  if (refusal !== undefined) {
    return refused(refusal);
  }
  if (force) {
    deps.err(
      `warning: --force: Docker was not asked whether a container uses ${address} (held by node ${held.record.node})`,
    );
  } else {
    const inUse = await useOnThisHost(deps.docker, address);
    if (inUse !== undefined) {
      return refused(inUse);
    }
  }
  const [result] = await deps.cleanup.deleteAddressesIfUnchanged(
    pool,
    [held],
    deps.cleanup.deadline(),
  );
  if (result !== 'deleted') {
    return refused(
      `${address} of pool ${pool} changed since it was read (released and taken again?); run the command again to check it anew`,
    );
  }
  deps.out(`released ${address} of pool ${pool} (held by node ${held.record.node})`);
  return EXIT.ok;
}

/** Why the address may not go because of this host's Docker, or undefined when nothing uses it. */
async function useOnThisHost(docker: DockerNetworks, address: string): Promise<string | undefined> {
  try {
    const uses = await dockerUses(docker, address);
    return uses.length === 0
      ? undefined
      : `${address} is in use on this host by ${uses.map(describeUse).join(', ')}`;
  } catch (e) {
    if (e instanceof DockerUnavailable) {
      return `cannot confirm that no container uses ${address}: ${e.message} (--force skips the Docker check)`;
    }
    throw e;
  }
}
