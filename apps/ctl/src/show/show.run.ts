import type { INestApplicationContext } from '@nestjs/common';

import type { IpamConfig } from '#app/config';
import { PlanStore } from '#app/store';

import { DockerodeNetworks } from '../../../cleanup/src/docker/docker-networks.js';
import { EXIT } from '../command.js';
import { complain, runInApp } from '../ctl-app.js';
import { CtlModule } from '../ctl.module.js';
import { lookupIp, renderIpJson, renderIpText } from './ip-lookup.js';
import { renderPlanJson, renderPlanText } from './plan-render.js';
import { planView } from './plan-view.js';
import { streamPoolAddresses } from './pool-addresses.js';
import type { ShowRequest } from './show.command.js';

const out = (text: string): void => {
  process.stdout.write(text);
};
const lines = (l: string[]): void => out(l.map((x) => `${x}\n`).join(''));

/** Runs a parsed `show` against etcd (and, for --ip, Docker). */
export function runShow(request: ShowRequest): Promise<number> {
  return runInApp(
    'show',
    () => CtlModule.forRoot([DockerodeNetworks]),
    ({ app, config }) => {
      const store = app.get(PlanStore);
      if (request.kind === 'plan') {
        return showPlan(store, config, request.json);
      }
      return request.kind === 'pool' ? showPool(store, request) : showIp(app, store, request);
    },
  );
}

async function showPlan(store: PlanStore, config: IpamConfig, json: boolean): Promise<number> {
  const plan = await store.readPlan(store.deadline());
  const supernets = [{ supernet: config.supernet, subnetLength: config.subnetLength }];
  const view = planView(plan, store.keys.root, supernets);
  if (json) {
    out(`${renderPlanJson(view)}\n`);
  } else {
    lines(renderPlanText(view, new Date()));
  }
  return EXIT.ok;
}

async function showPool(
  store: PlanStore,
  request: Extract<ShowRequest, { kind: 'pool' }>,
): Promise<number> {
  const listing = await streamPoolAddresses(store, request.pool, request, out);
  if (!listing.found) {
    complain('show', `pool ${request.pool} does not exist under ${store.keys.root}`);
    return EXIT.problems;
  }
  return EXIT.ok;
}

async function showIp(
  app: INestApplicationContext,
  store: PlanStore,
  request: Extract<ShowRequest, { kind: 'ip' }>,
): Promise<number> {
  const lookup = await lookupIp(store, app.get(DockerodeNetworks), request.ip);
  if (request.json) {
    out(`${renderIpJson(lookup)}\n`);
  } else {
    lines(renderIpText(lookup));
  }
  return EXIT.ok;
}
