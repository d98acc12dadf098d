import { describe, expect, it } from 'vitest';
import type { AddressRequest } from '#app/ipam';
import { Addr } from '#app/net';
import type { AddressRecord } from '#app/store';
import { grantsHeld, keptOnRelease, requestedKind } from './address-kind.js';

const MAC = '02:42:0a:50:00:05';
const OTHER_MAC = '02:42:0a:50:00:06';

const req = (r: Partial<AddressRequest>): AddressRequest => ({
  poolId: 'blue',
  gateway: false,
  macsRequested: true,
  ...r,
});

const rec = (r: Partial<AddressRecord>): AddressRecord => ({
  address: '10.80.0.5/24',
  node: 'node-a',
  ...r,
});

describe('requestedKind', () => {
  it.each([
    { name: 'dynamic, no options (RequiresMACAddress off)', r: req({}), kind: 'endpoint' },
    { name: 'dynamic with a MAC', r: req({ mac: MAC }), kind: 'endpoint' },
    {
      name: 'static without options: --aux-address',
      r: req({ address: Addr.parse('10.80.0.5') }),
      kind: 'aux',
    },
    {
      name: 'static without options, from a dockerd never asked for MACs: --ip',
      r: req({ address: Addr.parse('10.80.0.5'), macsRequested: false }),
      kind: 'endpoint',
    },
    {
      name: 'static with a MAC: --ip',
      r: req({ address: Addr.parse('10.80.0.5'), mac: MAC }),
      kind: 'endpoint',
    },
    {
      name: 'static with an endpoint name only (Engine 29)',
      r: req({ address: Addr.parse('10.80.0.5'), endpointName: 'web' }),
      kind: 'endpoint',
    },
    {
      name: 'a gateway, static',
      r: req({ address: Addr.parse('10.80.0.1'), gateway: true }),
      kind: 'gateway',
    },
    { name: 'a gateway, any', r: req({ gateway: true }), kind: 'gateway' },
  ])('$name -> $kind', ({ r, kind }) => {
    expect(requestedKind(r)).toBe(kind);
  });
});

describe('grantsHeld', () => {
  const endpoint = rec({ type: 'endpoint', mac: MAC });
  it.each([
    // the network's addresses: to every node that asks for them as such
    {
      name: 'aux held as aux, another node',
      claim: rec({ type: 'aux' }),
      held: rec({ type: 'aux', node: 'node-b' }),
      granted: true,
    },
    {
      name: 'aux held as a container',
      claim: rec({ type: 'aux' }),
      held: endpoint,
      granted: false,
    },
    {
      name: 'aux held as a record of old (no type)',
      claim: rec({ type: 'aux' }),
      held: rec({}),
      granted: false,
    },
    {
      name: 'aux held as the gateway',
      claim: rec({ type: 'aux' }),
      held: rec({ type: 'gateway' }),
      granted: false,
    },
    {
      name: 'gateway held as gateway, another node',
      claim: rec({ type: 'gateway' }),
      held: rec({ type: 'gateway', node: 'node-b' }),
      granted: true,
    },
    {
      name: 'gateway held as aux',
      claim: rec({ type: 'gateway' }),
      held: rec({ type: 'aux' }),
      granted: false,
    },
    // an endpoint's: only the same node and MAC
    { name: 'the same node and MAC', claim: endpoint, held: endpoint, granted: true },
    {
      name: 'the same MAC, another node',
      claim: endpoint,
      held: { ...endpoint, node: 'node-b' },
      granted: false,
    },
    {
      name: 'the same node, another MAC',
      claim: endpoint,
      held: { ...endpoint, mac: OTHER_MAC },
      granted: false,
    },
    {
      name: 'a claim without MAC',
      claim: rec({ type: 'endpoint' }),
      held: rec({ type: 'endpoint' }),
      granted: false,
    },
    {
      name: 'held without MAC (written before MACs)',
      claim: endpoint,
      held: rec({}),
      granted: false,
    },
    { name: 'held as aux', claim: endpoint, held: rec({ type: 'aux' }), granted: false },
    { name: 'held as a gateway', claim: endpoint, held: rec({ type: 'gateway' }), granted: false },
    {
      name: 'the same MAC, both named alike',
      claim: { ...endpoint, name: 'web' },
      held: { ...endpoint, name: 'web' },
      granted: true,
    },
    {
      name: 'the same MAC, named apart',
      claim: { ...endpoint, name: 'web' },
      held: { ...endpoint, name: 'db' },
      granted: false,
    },
    {
      name: 'the same MAC, one name only',
      claim: { ...endpoint, name: 'web' },
      held: endpoint,
      granted: true,
    },
  ])('$name -> $granted', ({ claim, held, granted }) => {
    expect(grantsHeld(claim, held)).toBe(granted);
  });
});

describe('keptOnRelease', () => {
  it.each([
    { name: 'an endpoint', record: { type: 'endpoint' }, kept: false },
    { name: 'a record of old (no type)', record: {}, kept: false },
    { name: 'an aux address', record: { type: 'aux' }, kept: true },
    { name: 'a gateway', record: { type: 'gateway' }, kept: true },
    { name: 'a kind of a later version', record: { type: 'vip' }, kept: true },
  ])('$name -> kept $kept', ({ record, kept }) => {
    // oxlint-disable-next-line typescript/no-unsafe-type-assertion -- a later version's kind
    const r = { address: '10.80.0.5/24', node: 'node-a', ...record } as AddressRecord;
    expect(keptOnRelease(r) !== undefined).toBe(kept);
  });
});
