import { PlanStore } from '#app/store';

import { DockerodeNetworks } from '../../../cleanup/src/docker/docker-networks.js';
import { EXIT, type CtlRun } from '../command.js';
import { runInApp, type CtlJob } from '../ctl-app.js';
import { CtlModule } from '../ctl.module.js';
import { lookupIp, renderIpJson, renderIpText } from './ip-lookup.js';
import { renderPlanJson, renderPlanText } from './plan-render.js';
import { planView, supernetsShown } from './plan-view.js';
import { streamPoolAddresses } from './pool-addresses.js';
import type { ShowRequest } from './show.command.js';

/** Runs a parsed `show` against etcd (and, for --ip, Docker). */
export function runShow(request: ShowRequest, run: CtlRun): Promise<number> {
  return runInApp(
    run,
    (env) => CtlModule.forRoot([DockerodeNetworks], env),
    (job) => {
      if (request.kind === 'plan') {
        return showPlan(job, request.json);
      }
      return request.kind === 'pool' ? showPool(job, request) : showIp(job, request);
    },
  );
}

async function showPlan({ app, config, out }: CtlJob, json: boolean): Promise<number> {
  const store = app.get(PlanStore);
  const plan = await store.readPlan(store.deadline());
  const view = planView(plan, store.keys.root, supernetsShown(config, plan));
  if (json) {
    out(renderPlanJson(view));
  } else {
    renderPlanText(view, new Date()).forEach(out);
  }
  return EXIT.ok;
}

async function showPool(
  { app, write, complain }: CtlJob,
  request: Extract<ShowRequest, { kind: 'pool' }>,
): Promise<number> {
  const store = app.get(PlanStore);
  const listing = await streamPoolAddresses(store, request.pool, request, write);
  if (!listing.found) {
    complain(`pool ${request.pool} does not exist under ${store.keys.root}`);
    return EXIT.problems;
  }
  return EXIT.ok;
}

async function showIp(
  { app, out }: CtlJob,
  request: Extract<ShowRequest, { kind: 'ip' }>,
): Promise<number> {
  const lookup = await lookupIp(app.get(PlanStore), app.get(DockerodeNetworks), request.ip);
  if (request.json) {
    out(renderIpJson(lookup));
  } else {
    renderIpText(lookup).forEach(out);
  }
  return EXIT.ok;
}
