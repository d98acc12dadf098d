import { Module, type DynamicModule } from '@nestjs/common';
import { describe, expect, it } from 'vitest';

import { IpamConfigModule } from '#app/config';
import { StoreUnavailable } from '#app/store';

import type { CtlRun, Env } from './command.js';
import { runInApp } from './ctl-app.js';
import { defineCommand } from './define-command.js';
import { capture as captureIo } from '../../../test/ctl/capture.js';

/** A run of `demo` whose output is held in memory (test/ctl/capture.ts). */
function capture(env?: Env) {
  const c = captureIo(env);
  return {
    run: { ...c.io, name: 'demo' },
    get out() {
      return c.lines;
    },
    get err() {
      return c.errors;
    },
  };
}

/** A command whose job says what it got; `loads` counts the lazy loads. */
function demo() {
  const state = { loads: 0 };
  const command = defineCommand({
    name: 'demo',
    summary: 'a demo',
    usage: 'Usage: kontena-ipam-ctl demo [N]\n',
    parse: (args) => (args[0] === 'bad' ? `bad is not an N` : { n: args[0] ?? 'none' }),
    load: async () => {
      state.loads++;
      return async ({ n }: { n: string }, run: CtlRun) => {
        run.output.stdout(`${run.name} ${n}\n`);
        return 0;
      };
    },
  });
  return { command, state };
}

describe('defineCommand', () => {
  it('should print the usage on --help, whatever else is on the line, and load nothing', async () => {
    const { command, state } = demo();
    const c = capture();
    expect(await command.run(['bad', '-h'], c.run)).toBe(0);
    expect(c.out).toEqual(['Usage: kontena-ipam-ctl demo [N]']);
    expect({ err: c.err, loads: state.loads }).toEqual({ err: [], loads: 0 });
  });

  it('should say a usage error with the name and where the help is, exit 2, load nothing', async () => {
    const { command, state } = demo();
    const c = capture();
    expect(await command.run(['bad'], c.run)).toBe(2);
    expect(c.err).toEqual([
      'kontena-ipam-ctl demo: bad is not an N',
      '(kontena-ipam-ctl demo --help lists the options)',
    ]);
    expect({ out: c.out, loads: state.loads }).toEqual({ out: [], loads: 0 });
  });

  it('should load the job and run the request with the command name', async () => {
    const { command, state } = demo();
    const c = capture();
    expect(await command.run(['7'], c.run)).toBe(0);
    expect({ out: c.out, loads: state.loads }).toEqual({ out: ['demo 7'], loads: 1 });
  });
});

/** The configuration alone: no etcd, no Docker. */
@Module({})
class ConfigOnly {
  static forRoot(env?: Env): DynamicModule {
    return { module: ConfigOnly, imports: [IpamConfigModule.forRoot(env)] };
  }
}

describe('runInApp', () => {
  const env: Env = { NODE_ID: 'demo-node', ETCD_ENDPOINT: 'http://127.0.0.1:1' };

  it('should refuse a bad environment as a usage error, with the variable', async () => {
    const c = capture({ ...env, LOG_LEVEL: 'loud' });
    expect(
      await runInApp(
        c.run,
        (e) => ConfigOnly.forRoot(e),
        async () => 0,
      ),
    ).toBe(2);
    expect(c.err[0]).toMatch(/^kontena-ipam-ctl demo: invalid configuration/);
    expect(c.err.join('\n')).toMatch(/LOG_LEVEL=loud/);
  });

  it('should give the job the configuration and its output', async () => {
    const c = capture(env);
    const code = await runInApp(
      c.run,
      (e) => ConfigOnly.forRoot(e),
      async ({ config, out, write, complain }) => {
        out(`node ${config.nodeId}`);
        write('a ');
        write('line\n');
        complain('a problem');
        return 1;
      },
    );
    expect({ code, out: c.out, err: c.err }).toEqual({
      code: 1,
      out: ['node demo-node', 'a line'],
      err: ['kontena-ipam-ctl demo: a problem'],
    });
  });

  it('should answer 3 when etcd does not answer, and say that nothing more was changed', async () => {
    const c = capture(env);
    const code = await runInApp(
      c.run,
      (e) => ConfigOnly.forRoot(e),
      async () => {
        throw new StoreUnavailable('etcd is unreachable at http://127.0.0.1:1');
      },
    );
    expect({ code, err: c.err }).toEqual({
      code: 3,
      err: [
        'kontena-ipam-ctl demo: etcd is unreachable at http://127.0.0.1:1; nothing more was changed (run it again once etcd answers)',
      ],
    });
  });
});
