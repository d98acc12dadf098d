import { dirname } from 'node:path';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

import { ConfigError } from './config-error.js';
import type { IpamConfig } from './ipam-config.js';
import type { EnvName } from './ipam-env.js';
import { configWarnings } from './config-warnings.js';
import { loadConfig, redactedConfig } from './load-config.js';

type Env = Record<string, string | undefined>;

/** Any readable regular file will do as a TLS file: use this spec itself. */
const READABLE = fileURLToPath(import.meta.url);
const DIRECTORY = dirname(READABLE);
const MISSING = '/nonexistent/kontena-ipam/ca.pem';
const PASSWORD = 's3cr3t-Pa55word';

const ALL_NAMES: EnvName[] = [
  'NODE_ID',
  'ETCD_ENDPOINT',
  'ETCD_PREFIX',
  'ETCD_WAIT_TIMEOUT',
  'ETCD_CA_FILE',
  'ETCD_CERT_FILE',
  'ETCD_KEY_FILE',
  'ETCD_USERNAME',
  'ETCD_PASSWORD',
  'LOG_LEVEL',
  'LOG_FORMAT',
  'KONTENA_IPAM_SUPERNET',
  'KONTENA_IPAM_SUBNET_LENGTH',
  'KONTENA_IPAM_SUPERNET6',
  'KONTENA_IPAM_SUBNET6_LENGTH',
  'KONTENA_IPAM_SOCKET',
  'KONTENA_IPAM_AVOID_HOST_ROUTES',
  'KONTENA_IPAM_HEALTH_LISTEN',
  'KONTENA_IPAM_METRICS_RECORDING',
  'DOCKER_HOST',
];

const DEFAULTS: IpamConfig = {
  nodeId: hostname(),
  etcd: { endpoints: ['http://localhost:2379'], prefix: '/kontena/ipam', waitTimeoutSeconds: 60 },
  logLevel: 'info',
  logFormat: 'text',
  supernets: [{ supernet: '10.80.0.0/12', subnetLength: 24 }],
  subnetLength: 24,
  subnet6Length: 64,
  socketPath: '/run/docker/plugins/kontena-ipam.sock',
  driverName: 'kontena-ipam',
  avoidHostRoutes: true,
  health: { host: '127.0.0.1', port: 2275 },
  dockerHost: 'unix:///var/run/docker.sock',
  metricsRecording: true,
  sources: { defaulted: ALL_NAMES, lookalikes: [] },
};

/** The ConfigError thrown by loadConfig (fails the test if nothing or something else is thrown). */
function configErrorOf(env: Env): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      return error;
    }
    throw error;
  }
  throw new Error('expected loadConfig to throw a ConfigError');
}

const problemsOf = (env: Env): string[] => configErrorOf(env).problems;

describe('loadConfig: accepted values', () => {
  const cases: { name: string; env: Env; pick: (c: IpamConfig) => unknown; expected: unknown }[] = [
    // edge rows
    { name: 'empty environment gives every default', env: {}, pick: (c) => c, expected: DEFAULTS },
    {
      name: 'empty strings count as unset',
      env: Object.fromEntries(ALL_NAMES.map((n) => [n, ''])),
      pick: (c) => c,
      expected: DEFAULTS,
    },
    {
      name: 'unrelated variables are ignored, a lookalike is only noted',
      env: { PATH: '/bin', ETCD_ENDPOINTS: 'nonsense', HOME: '' },
      pick: (c) => c,
      expected: {
        ...DEFAULTS,
        sources: {
          defaulted: ALL_NAMES,
          lookalikes: [{ name: 'ETCD_ENDPOINTS', meant: 'ETCD_ENDPOINT' }],
        },
      },
    },
    // NODE_ID
    {
      name: 'NODE_ID of 128 characters',
      env: { NODE_ID: 'n'.repeat(128) },
      pick: (c) => c.nodeId,
      expected: 'n'.repeat(128),
    },
    {
      name: 'NODE_ID with non-ASCII letters',
      env: { NODE_ID: 'knoten-ü' },
      pick: (c) => c.nodeId,
      expected: 'knoten-ü',
    },
    // ETCD_ENDPOINT
    {
      name: 'ETCD_ENDPOINT list is trimmed, empty items dropped, order and duplicates kept',
      env: { ETCD_ENDPOINT: ' http://b:2379 ,, http://a:2379,http://b:2379, ' },
      pick: (c) => c.etcd.endpoints,
      expected: ['http://b:2379', 'http://a:2379', 'http://b:2379'],
    },
    {
      name: 'ETCD_ENDPOINT trailing slash is dropped',
      env: { ETCD_ENDPOINT: 'http://etcd:2379/' },
      pick: (c) => c.etcd.endpoints,
      expected: ['http://etcd:2379'],
    },
    {
      name: 'ETCD_ENDPOINT https without port and bracketed IPv6',
      env: { ETCD_ENDPOINT: 'https://etcd,https://[fd00::1]:2379' },
      pick: (c) => c.etcd.endpoints,
      expected: ['https://etcd', 'https://[fd00::1]:2379'],
    },
    // ETCD_PREFIX
    {
      name: 'ETCD_PREFIX trailing slash is removed',
      env: { ETCD_PREFIX: '/a/b/' },
      pick: (c) => c.etcd.prefix,
      expected: '/a/b',
    },
    {
      name: 'ETCD_PREFIX repeated trailing slashes are removed',
      env: { ETCD_PREFIX: '/a//' },
      pick: (c) => c.etcd.prefix,
      expected: '/a',
    },
    // ETCD_WAIT_TIMEOUT
    {
      name: 'ETCD_WAIT_TIMEOUT lowest',
      env: { ETCD_WAIT_TIMEOUT: '1' },
      pick: (c) => c.etcd.waitTimeoutSeconds,
      expected: 1,
    },
    {
      name: 'ETCD_WAIT_TIMEOUT highest',
      env: { ETCD_WAIT_TIMEOUT: '3600' },
      pick: (c) => c.etcd.waitTimeoutSeconds,
      expected: 3600,
    },
    // TLS
    {
      name: 'no TLS file means no tls block',
      env: {},
      pick: (c) => 'tls' in c.etcd,
      expected: false,
    },
    {
      name: 'ETCD_CA_FILE alone with https endpoints',
      env: { ETCD_CA_FILE: READABLE, ETCD_ENDPOINT: 'https://etcd:2379' },
      pick: (c) => c.etcd.tls,
      expected: { caFile: READABLE },
    },
    {
      name: 'ETCD_CERT_FILE and ETCD_KEY_FILE together',
      env: {
        ETCD_CERT_FILE: READABLE,
        ETCD_KEY_FILE: READABLE,
        ETCD_ENDPOINT: 'https://etcd:2379',
      },
      pick: (c) => c.etcd.tls,
      expected: { certFile: READABLE, keyFile: READABLE },
    },
    // auth
    {
      name: 'no credentials means no auth block',
      env: {},
      pick: (c) => 'auth' in c.etcd,
      expected: false,
    },
    {
      name: 'ETCD_USERNAME and ETCD_PASSWORD together',
      env: { ETCD_USERNAME: 'ipam', ETCD_PASSWORD: PASSWORD },
      pick: (c) => c.etcd.auth,
      expected: { username: 'ipam', password: PASSWORD },
    },
    // LOG_FORMAT
    {
      name: 'LOG_FORMAT json',
      env: { LOG_FORMAT: 'json' },
      pick: (c) => c.logFormat,
      expected: 'json',
    },
    {
      name: 'KONTENA_IPAM_METRICS_RECORDING off (the bench only)',
      env: { KONTENA_IPAM_METRICS_RECORDING: 'off' },
      pick: (c) => c.metricsRecording,
      expected: false,
    },
    // LOG_LEVEL
    {
      name: 'LOG_LEVEL 0 is debug',
      env: { LOG_LEVEL: '0' },
      pick: (c) => c.logLevel,
      expected: 'debug',
    },
    {
      name: 'LOG_LEVEL 2 is warn',
      env: { LOG_LEVEL: '2' },
      pick: (c) => c.logLevel,
      expected: 'warn',
    },
    {
      name: 'LOG_LEVEL 3 is error',
      env: { LOG_LEVEL: '3' },
      pick: (c) => c.logLevel,
      expected: 'error',
    },
    {
      name: 'LOG_LEVEL name is case-insensitive',
      env: { LOG_LEVEL: 'Debug' },
      pick: (c) => c.logLevel,
      expected: 'debug',
    },
    {
      name: 'LOG_LEVEL warning means warn',
      env: { LOG_LEVEL: 'WARNING' },
      pick: (c) => c.logLevel,
      expected: 'warn',
    },
    // KONTENA_IPAM_SUPERNET / SUBNET_LENGTH
    {
      name: 'supernet /0',
      env: { KONTENA_IPAM_SUPERNET: '0.0.0.0/0' },
      pick: (c) => c.supernets,
      expected: [{ supernet: '0.0.0.0/0', subnetLength: 24 }],
    },
    {
      name: 'supernet /30 with subnet length 30',
      env: { KONTENA_IPAM_SUPERNET: '192.168.0.4/30', KONTENA_IPAM_SUBNET_LENGTH: '30' },
      pick: (c) => [c.supernets, c.subnetLength],
      expected: [[{ supernet: '192.168.0.4/30', subnetLength: 30 }], 30],
    },
    {
      name: 'subnet length 8 under a /4 supernet',
      env: { KONTENA_IPAM_SUPERNET: '0.0.0.0/4', KONTENA_IPAM_SUBNET_LENGTH: '8' },
      pick: (c) => c.subnetLength,
      expected: 8,
    },
    {
      name: 'subnet length equal to the supernet prefix length',
      env: { KONTENA_IPAM_SUBNET_LENGTH: '12' },
      pick: (c) => c.subnetLength,
      expected: 12,
    },
    // KONTENA_IPAM_SUPERNET6 / SUBNET6_LENGTH
    {
      name: 'no IPv6 supernet: the cluster ULA from etcd, /64 pools',
      env: {},
      pick: (c) => [c.supernets6, c.subnet6Length],
      expected: [undefined, 64],
    },
    {
      name: 'IPv6 supernet in its RFC 5952 form',
      env: { KONTENA_IPAM_SUPERNET6: 'FD00:0:0:0:0:0:0:0/16', KONTENA_IPAM_SUBNET6_LENGTH: '48' },
      pick: (c) => [c.supernets6, c.subnet6Length],
      expected: [[{ supernet: 'fd00::/16', subnetLength: 48 }], 48],
    },
    {
      name: 'IPv6 subnet length 120 under a /120',
      env: { KONTENA_IPAM_SUPERNET6: '2001:db8::100/120', KONTENA_IPAM_SUBNET6_LENGTH: '120' },
      pick: (c) => [c.supernets6, c.subnet6Length],
      expected: [[{ supernet: '2001:db8::100/120', subnetLength: 120 }], 120],
    },
    {
      name: 'a list of supernets, in the order given, each with its own length or the default',
      env: {
        KONTENA_IPAM_SUPERNET: '10.80.0.0/12:24, 172.30.0.0/16:26,,192.168.128.0/17,',
        KONTENA_IPAM_SUBNET_LENGTH: '25',
      },
      pick: (c) => [c.supernets, c.subnetLength],
      expected: [
        [
          { supernet: '10.80.0.0/12', subnetLength: 24 },
          { supernet: '172.30.0.0/16', subnetLength: 26 },
          { supernet: '192.168.128.0/17', subnetLength: 25 },
        ],
        25,
      ],
    },
    {
      name: 'a default subnet length shorter than a supernet that has its own length',
      env: {
        KONTENA_IPAM_SUPERNET: '10.80.0.0/12,192.168.0.0/24:28',
        KONTENA_IPAM_SUBNET_LENGTH: '16',
      },
      pick: (c) => c.supernets.map((s) => s.subnetLength),
      expected: [16, 28],
    },
    {
      name: 'an IPv6 list, lengths after the /len',
      env: {
        KONTENA_IPAM_SUPERNET6: 'fd00:1::/48:64,FD00:2:0::/56:80',
        KONTENA_IPAM_SUBNET6_LENGTH: '96',
      },
      pick: (c) => c.supernets6,
      expected: [
        { supernet: 'fd00:1::/48', subnetLength: 64 },
        { supernet: 'fd00:2::/56', subnetLength: 80 },
      ],
    },
    // KONTENA_IPAM_SOCKET
    {
      name: 'socket path gives the driver name',
      env: { KONTENA_IPAM_SOCKET: '/tmp/plugins/my-ipam.sock' },
      pick: (c) => [c.socketPath, c.driverName],
      expected: ['/tmp/plugins/my-ipam.sock', 'my-ipam'],
    },
    {
      name: 'socket path of exactly 107 bytes',
      env: { KONTENA_IPAM_SOCKET: `/${'s'.repeat(101)}.sock` },
      pick: (c) => c.driverName,
      expected: 's'.repeat(101),
    },
    // KONTENA_IPAM_AVOID_HOST_ROUTES
    {
      name: 'avoid host routes FALSE',
      env: { KONTENA_IPAM_AVOID_HOST_ROUTES: 'FALSE' },
      pick: (c) => c.avoidHostRoutes,
      expected: false,
    },
    {
      name: 'avoid host routes 0',
      env: { KONTENA_IPAM_AVOID_HOST_ROUTES: '0' },
      pick: (c) => c.avoidHostRoutes,
      expected: false,
    },
    {
      name: 'avoid host routes no',
      env: { KONTENA_IPAM_AVOID_HOST_ROUTES: 'no' },
      pick: (c) => c.avoidHostRoutes,
      expected: false,
    },
    {
      name: 'avoid host routes Off',
      env: { KONTENA_IPAM_AVOID_HOST_ROUTES: 'Off' },
      pick: (c) => c.avoidHostRoutes,
      expected: false,
    },
    {
      name: 'avoid host routes YES',
      env: { KONTENA_IPAM_AVOID_HOST_ROUTES: 'YES' },
      pick: (c) => c.avoidHostRoutes,
      expected: true,
    },
    {
      name: 'avoid host routes on',
      env: { KONTENA_IPAM_AVOID_HOST_ROUTES: 'on' },
      pick: (c) => c.avoidHostRoutes,
      expected: true,
    },
    // KONTENA_IPAM_HEALTH_LISTEN
    {
      name: 'health on all interfaces, port 1',
      env: { KONTENA_IPAM_HEALTH_LISTEN: '0.0.0.0:1' },
      pick: (c) => c.health,
      expected: { host: '0.0.0.0', port: 1 },
    },
    {
      name: 'health on IPv6, port 65535',
      env: { KONTENA_IPAM_HEALTH_LISTEN: '[::1]:65535' },
      pick: (c) => c.health,
      expected: { host: '::1', port: 65_535 },
    },
    {
      name: 'health on a host name',
      env: { KONTENA_IPAM_HEALTH_LISTEN: 'localhost:8080' },
      pick: (c) => c.health,
      expected: { host: 'localhost', port: 8080 },
    },
    // DOCKER_HOST
    {
      name: 'DOCKER_HOST unix socket',
      env: { DOCKER_HOST: 'unix:///run/docker.sock' },
      pick: (c) => c.dockerHost,
      expected: 'unix:///run/docker.sock',
    },
    {
      name: 'DOCKER_HOST tcp',
      env: { DOCKER_HOST: 'tcp://10.0.0.1:2375' },
      pick: (c) => c.dockerHost,
      expected: 'tcp://10.0.0.1:2375',
    },
    {
      name: 'DOCKER_HOST http',
      env: { DOCKER_HOST: 'http://docker:2375' },
      pick: (c) => c.dockerHost,
      expected: 'http://docker:2375',
    },
    {
      name: 'DOCKER_HOST https',
      env: { DOCKER_HOST: 'https://docker:2376' },
      pick: (c) => c.dockerHost,
      expected: 'https://docker:2376',
    },
  ];

  it.each(cases)('$name', ({ env, pick, expected }) => {
    expect(pick(loadConfig(env))).toEqual(expected);
  });
});

describe('loadConfig: rejected values', () => {
  const WAIT = 'must be an integer from 1 to 3600 (seconds)';
  const NODE = "must be 1 to 128 characters without '/', whitespace or control characters";
  const ENDPOINTS =
    'must be comma-separated http:// or https:// URLs with a host and optional port, without path, query or credentials';
  const SAME_SCHEME = 'must all use the same scheme, http:// or https://';
  const PREFIX = 'must be a key prefix of / and a name (e.g. /kontena/ipam), without whitespace';
  const LEVEL =
    'must be 0 (debug), 1 (info), 2 (warn), 3 (error) or one of debug, info, warn, warning, error';
  const SUPERNET =
    'must be an IPv4 network in CIDR notation with a prefix length from 0 to 30, e.g. 10.80.0.0/12';
  const SOCKET =
    'must be an absolute path to a <name>.sock file, at most 107 bytes long (unix socket limit)';
  const BOOL = 'must be a boolean: true/false, 1/0, yes/no or on/off';
  const LISTEN = 'must be host:port or [ipv6]:port with a port from 1 to 65535';
  const DOCKER =
    'must be unix:///absolute/path, tcp://host:port, http://host:port or https://host:port';
  const HTTPS =
    'every endpoint must use https:// when ETCD_CA_FILE, ETCD_CERT_FILE or ETCD_KEY_FILE is set';

  const cases: { name: string; env: Env; problems: string[] }[] = [
    // edge rows
    {
      name: 'NODE_ID of blanks only (not empty, so no default)',
      env: { NODE_ID: '  ' },
      problems: [`NODE_ID=  : ${NODE}`],
    },
    {
      name: 'ETCD_ENDPOINT of separators only',
      env: { ETCD_ENDPOINT: ' , ' },
      problems: [`ETCD_ENDPOINT= , : ${ENDPOINTS}`],
    },
    {
      name: 'control characters are escaped in the message',
      env: { NODE_ID: 'a\nb' },
      problems: [`NODE_ID=a\\nb: ${NODE}`],
    },
    {
      name: 'a bad default is reported as such',
      env: { KONTENA_IPAM_SUPERNET: '10.80.0.0/28' },
      problems: [
        "KONTENA_IPAM_SUBNET_LENGTH=24: must be an integer from 28 to 30 (at least the supernet's prefix length); this is the default, so set it explicitly",
      ],
    },
    // NODE_ID
    {
      name: 'NODE_ID of 129 characters',
      env: { NODE_ID: 'n'.repeat(129) },
      problems: [`NODE_ID=${'n'.repeat(129)}: ${NODE}`],
    },
    { name: 'NODE_ID with a slash', env: { NODE_ID: 'a/b' }, problems: [`NODE_ID=a/b: ${NODE}`] },
    { name: 'NODE_ID with a blank', env: { NODE_ID: 'a b' }, problems: [`NODE_ID=a b: ${NODE}`] },
    {
      name: 'NODE_ID with a control character',
      env: { NODE_ID: 'a\u0007b' },
      problems: [`NODE_ID=a\\u0007b: ${NODE}`],
    },
    // ETCD_ENDPOINT
    {
      name: 'ETCD_ENDPOINT without scheme',
      env: { ETCD_ENDPOINT: 'etcd:2379' },
      problems: [`ETCD_ENDPOINT=etcd:2379: ${ENDPOINTS}`],
    },
    {
      name: 'ETCD_ENDPOINT other scheme',
      env: { ETCD_ENDPOINT: 'grpc://etcd:2379' },
      problems: [`ETCD_ENDPOINT=grpc://etcd:2379: ${ENDPOINTS}`],
    },
    {
      name: 'ETCD_ENDPOINT without host',
      env: { ETCD_ENDPOINT: 'http://:2379' },
      problems: [`ETCD_ENDPOINT=http://:2379: ${ENDPOINTS}`],
    },
    {
      name: 'ETCD_ENDPOINT bad port',
      env: { ETCD_ENDPOINT: 'http://etcd:0' },
      problems: [`ETCD_ENDPOINT=http://etcd:0: ${ENDPOINTS}`],
    },
    {
      name: 'ETCD_ENDPOINT with path',
      env: { ETCD_ENDPOINT: 'http://etcd:2379/v3' },
      problems: [`ETCD_ENDPOINT=http://etcd:2379/v3: ${ENDPOINTS}`],
    },
    {
      name: 'ETCD_ENDPOINT with query',
      env: { ETCD_ENDPOINT: 'http://etcd:2379?a=b' },
      problems: [`ETCD_ENDPOINT=http://etcd:2379?a=b: ${ENDPOINTS}`],
    },
    {
      name: 'ETCD_ENDPOINT with credentials (hidden in the message)',
      env: { ETCD_ENDPOINT: 'http://root:hunter2@etcd:2379' },
      problems: [`ETCD_ENDPOINT=http://***@etcd:2379: ${ENDPOINTS}`],
    },
    {
      name: 'ETCD_ENDPOINT names the bad item of a list',
      env: { ETCD_ENDPOINT: 'http://a:2379, b:2379' },
      problems: [`ETCD_ENDPOINT=http://a:2379, b:2379: ${ENDPOINTS} (item 2 is not)`],
    },
    {
      name: 'ETCD_ENDPOINT mixing http and https',
      env: { ETCD_ENDPOINT: 'http://a:2379,https://b:2379' },
      problems: [`ETCD_ENDPOINT=http://a:2379,https://b:2379: ${SAME_SCHEME}`],
    },
    {
      name: 'ETCD_ENDPOINT with one http endpoint after https ones',
      env: { ETCD_ENDPOINT: 'https://a,https://b,http://c' },
      problems: [`ETCD_ENDPOINT=https://a,https://b,http://c: ${SAME_SCHEME}`],
    },
    {
      name: 'ETCD_ENDPOINT mixing schemes next to a bad item',
      env: { ETCD_ENDPOINT: 'http://a,https://b,ftp://c' },
      problems: [
        `ETCD_ENDPOINT=http://a,https://b,ftp://c: ${ENDPOINTS} (item 3 is not); ${SAME_SCHEME}`,
      ],
    },
    {
      name: 'TLS file with the default http endpoint',
      env: { ETCD_CA_FILE: READABLE },
      problems: [
        `ETCD_ENDPOINT=http://localhost:2379: ${HTTPS}; this is the default, so set it explicitly`,
      ],
    },
    {
      name: 'TLS files with one http endpoint among https ones',
      env: {
        ETCD_CERT_FILE: READABLE,
        ETCD_KEY_FILE: READABLE,
        ETCD_ENDPOINT: 'https://a,http://b',
      },
      problems: [`ETCD_ENDPOINT=https://a,http://b: ${HTTPS}`],
    },
    {
      name: 'ETCD_ENDPOINT shape and TLS problems share one line',
      env: { ETCD_CA_FILE: READABLE, ETCD_ENDPOINT: 'http://a:2379,ftp://b' },
      problems: [`ETCD_ENDPOINT=http://a:2379,ftp://b: ${ENDPOINTS} (item 2 is not); ${HTTPS}`],
    },
    // ETCD_PREFIX
    {
      name: 'ETCD_PREFIX of only a slash',
      env: { ETCD_PREFIX: '/' },
      problems: [`ETCD_PREFIX=/: ${PREFIX}`],
    },
    {
      name: 'ETCD_PREFIX without leading slash',
      env: { ETCD_PREFIX: 'kontena/ipam' },
      problems: [`ETCD_PREFIX=kontena/ipam: ${PREFIX}`],
    },
    {
      name: 'ETCD_PREFIX with a blank',
      env: { ETCD_PREFIX: '/kontena ipam' },
      problems: [`ETCD_PREFIX=/kontena ipam: ${PREFIX}`],
    },
    // ETCD_WAIT_TIMEOUT
    {
      name: 'ETCD_WAIT_TIMEOUT 0',
      env: { ETCD_WAIT_TIMEOUT: '0' },
      problems: [`ETCD_WAIT_TIMEOUT=0: ${WAIT}`],
    },
    {
      name: 'ETCD_WAIT_TIMEOUT 3601',
      env: { ETCD_WAIT_TIMEOUT: '3601' },
      problems: [`ETCD_WAIT_TIMEOUT=3601: ${WAIT}`],
    },
    {
      name: 'ETCD_WAIT_TIMEOUT fraction',
      env: { ETCD_WAIT_TIMEOUT: '1.5' },
      problems: [`ETCD_WAIT_TIMEOUT=1.5: ${WAIT}`],
    },
    {
      name: 'ETCD_WAIT_TIMEOUT exponent',
      env: { ETCD_WAIT_TIMEOUT: '1e3' },
      problems: [`ETCD_WAIT_TIMEOUT=1e3: ${WAIT}`],
    },
    {
      name: 'ETCD_WAIT_TIMEOUT negative',
      env: { ETCD_WAIT_TIMEOUT: '-5' },
      problems: [`ETCD_WAIT_TIMEOUT=-5: ${WAIT}`],
    },
    {
      name: 'ETCD_WAIT_TIMEOUT word',
      env: { ETCD_WAIT_TIMEOUT: 'soon' },
      problems: [`ETCD_WAIT_TIMEOUT=soon: ${WAIT}`],
    },
    // TLS files
    {
      name: 'ETCD_CA_FILE missing',
      env: { ETCD_CA_FILE: MISSING, ETCD_ENDPOINT: 'https://etcd' },
      problems: [`ETCD_CA_FILE=${MISSING}: must be a readable file`],
    },
    {
      name: 'ETCD_CA_FILE is a directory',
      env: { ETCD_CA_FILE: DIRECTORY, ETCD_ENDPOINT: 'https://etcd' },
      problems: [`ETCD_CA_FILE=${DIRECTORY}: must be a readable file`],
    },
    {
      name: 'ETCD_CERT_FILE and ETCD_KEY_FILE missing',
      env: { ETCD_CERT_FILE: MISSING, ETCD_KEY_FILE: MISSING, ETCD_ENDPOINT: 'https://etcd' },
      problems: [
        `ETCD_CERT_FILE=${MISSING}: must be a readable file`,
        `ETCD_KEY_FILE=${MISSING}: must be a readable file`,
      ],
    },
    {
      name: 'ETCD_CERT_FILE without ETCD_KEY_FILE',
      env: { ETCD_CERT_FILE: READABLE, ETCD_ENDPOINT: 'https://etcd' },
      problems: ['ETCD_KEY_FILE=: must be set together with ETCD_CERT_FILE'],
    },
    {
      name: 'ETCD_KEY_FILE without ETCD_CERT_FILE',
      env: { ETCD_KEY_FILE: READABLE, ETCD_ENDPOINT: 'https://etcd' },
      problems: ['ETCD_CERT_FILE=: must be set together with ETCD_KEY_FILE'],
    },
    // credentials
    {
      name: 'ETCD_USERNAME without ETCD_PASSWORD',
      env: { ETCD_USERNAME: 'ipam' },
      problems: ['ETCD_PASSWORD=: must be set together with ETCD_USERNAME'],
    },
    {
      name: 'ETCD_PASSWORD without ETCD_USERNAME',
      env: { ETCD_PASSWORD: PASSWORD },
      problems: ['ETCD_USERNAME=: must be set together with ETCD_PASSWORD'],
    },
    // LOG_LEVEL
    { name: 'LOG_LEVEL 4', env: { LOG_LEVEL: '4' }, problems: [`LOG_LEVEL=4: ${LEVEL}`] },
    {
      name: 'LOG_LEVEL unknown name',
      env: { LOG_LEVEL: 'verbose' },
      problems: [`LOG_LEVEL=verbose: ${LEVEL}`],
    },
    // KONTENA_IPAM_SUPERNET
    {
      name: 'supernet IPv6',
      env: { KONTENA_IPAM_SUPERNET: 'fd00::/8' },
      problems: [
        'KONTENA_IPAM_SUPERNET=fd00::/8: is an IPv6 network: must be an IPv4 network such as 10.80.0.0/12 (IPv6 pools come from KONTENA_IPAM_SUPERNET6)',
      ],
    },
    {
      name: 'supernet without prefix length',
      env: { KONTENA_IPAM_SUPERNET: '10.80.0.0' },
      problems: [`KONTENA_IPAM_SUPERNET=10.80.0.0: ${SUPERNET}`],
    },
    {
      name: 'supernet /31',
      env: { KONTENA_IPAM_SUPERNET: '10.80.0.0/31' },
      problems: [`KONTENA_IPAM_SUPERNET=10.80.0.0/31: ${SUPERNET}`],
    },
    {
      name: 'supernet short form',
      env: { KONTENA_IPAM_SUPERNET: '10.80/12' },
      problems: [`KONTENA_IPAM_SUPERNET=10.80/12: ${SUPERNET}`],
    },
    {
      name: 'supernet octal-looking octet',
      env: { KONTENA_IPAM_SUPERNET: '010.80.0.0/12' },
      problems: [`KONTENA_IPAM_SUPERNET=010.80.0.0/12: ${SUPERNET}`],
    },
    {
      name: 'supernet with host bits',
      env: { KONTENA_IPAM_SUPERNET: '10.80.1.0/12' },
      problems: [
        'KONTENA_IPAM_SUPERNET=10.80.1.0/12: must not have host bits set (did you mean 10.80.0.0/12?)',
      ],
    },
    // KONTENA_IPAM_SUPERNET lists
    {
      name: 'supernet list naming the bad item',
      env: { KONTENA_IPAM_SUPERNET: '10.80.0.0/12,172.30.1.0/16' },
      problems: [
        'KONTENA_IPAM_SUPERNET=10.80.0.0/12,172.30.1.0/16: item 2 (172.30.1.0/16) must not have host bits set (did you mean 172.30.0.0/16?)',
      ],
    },
    {
      name: 'supernet list with overlapping entries',
      env: { KONTENA_IPAM_SUPERNET: '10.80.0.0/12, 10.90.0.0/16:26' },
      problems: [
        'KONTENA_IPAM_SUPERNET=10.80.0.0/12, 10.90.0.0/16:26: item 2 (10.90.0.0/16:26) overlaps item 1 (10.80.0.0/12): the supernets of a list must not overlap',
      ],
    },
    {
      name: 'supernet list of nothing but commas',
      env: { KONTENA_IPAM_SUPERNET: ' , ' },
      problems: ['KONTENA_IPAM_SUPERNET= , : must list at least one network'],
    },
    {
      name: 'supernet length shorter than its network',
      env: { KONTENA_IPAM_SUPERNET: '172.30.0.0/16:15' },
      problems: [
        "KONTENA_IPAM_SUPERNET=172.30.0.0/16:15: has subnet length :15, which must be an integer from 16 to 30 (at least the network's prefix length /16)",
      ],
    },
    {
      name: 'supernet length /31',
      env: { KONTENA_IPAM_SUPERNET: '10.80.0.0/12:31' },
      problems: [
        "KONTENA_IPAM_SUPERNET=10.80.0.0/12:31: has subnet length :31, which must be an integer from 12 to 30 (at least the network's prefix length /12)",
      ],
    },
    {
      name: 'supernet length not a number',
      env: { KONTENA_IPAM_SUPERNET: '10.80.0.0/12:' },
      problems: [
        "KONTENA_IPAM_SUPERNET=10.80.0.0/12:: has subnet length :, which must be an integer from 12 to 30 (at least the network's prefix length /12)",
      ],
    },
    {
      name: 'default subnet length shorter than a listed supernet without its own',
      env: { KONTENA_IPAM_SUPERNET: '10.80.0.0/12:24,192.168.0.0/26' },
      problems: [
        'KONTENA_IPAM_SUBNET_LENGTH=24: must be an integer from 26 to 30 (at least the prefix length of every supernet listed without a :LENGTH of its own); this is the default, so set it explicitly',
      ],
    },
    {
      name: 'IPv6 list with an IPv4 entry',
      env: { KONTENA_IPAM_SUPERNET6: 'fd00:1::/48,10.0.0.0/8' },
      problems: [
        'KONTENA_IPAM_SUPERNET6=fd00:1::/48,10.0.0.0/8: item 2 (10.0.0.0/8) is an IPv4 network: must be an IPv6 network such as fd00:1234:5678::/48 (IPv4 pools come from KONTENA_IPAM_SUPERNET)',
      ],
    },
    {
      name: 'IPv6 list with overlapping entries',
      env: { KONTENA_IPAM_SUPERNET6: 'fd00:1::/48:64,fd00:1:0:100::/56' },
      problems: [
        'KONTENA_IPAM_SUPERNET6=fd00:1::/48:64,fd00:1:0:100::/56: item 2 (fd00:1:0:100::/56) overlaps item 1 (fd00:1::/48): the supernets of a list must not overlap',
      ],
    },
    // KONTENA_IPAM_SUBNET_LENGTH
    {
      name: 'subnet length above 30',
      env: { KONTENA_IPAM_SUBNET_LENGTH: '33' },
      problems: [
        "KONTENA_IPAM_SUBNET_LENGTH=33: must be an integer from 12 to 30 (at least the supernet's prefix length)",
      ],
    },
    {
      name: 'subnet length below the supernet prefix length',
      env: { KONTENA_IPAM_SUBNET_LENGTH: '11' },
      problems: [
        "KONTENA_IPAM_SUBNET_LENGTH=11: must be an integer from 12 to 30 (at least the supernet's prefix length)",
      ],
    },
    {
      name: 'subnet length below 8 under a large supernet',
      env: { KONTENA_IPAM_SUPERNET: '0.0.0.0/4', KONTENA_IPAM_SUBNET_LENGTH: '7' },
      problems: ['KONTENA_IPAM_SUBNET_LENGTH=7: must be an integer from 8 to 30'],
    },
    {
      name: 'subnet length not a number',
      env: { KONTENA_IPAM_SUBNET_LENGTH: '/24' },
      problems: [
        "KONTENA_IPAM_SUBNET_LENGTH=/24: must be an integer from 12 to 30 (at least the supernet's prefix length)",
      ],
    },
    {
      name: 'subnet length with a bad supernet falls back to 8–30',
      env: { KONTENA_IPAM_SUPERNET: 'nope', KONTENA_IPAM_SUBNET_LENGTH: '31' },
      problems: [
        `KONTENA_IPAM_SUPERNET=nope: ${SUPERNET}`,
        'KONTENA_IPAM_SUBNET_LENGTH=31: must be an integer from 8 to 30',
      ],
    },
    // KONTENA_IPAM_SUPERNET6 / SUBNET6_LENGTH
    {
      name: 'IPv4 supernet given as the IPv6 one',
      env: { KONTENA_IPAM_SUPERNET6: '10.90.0.0/16' },
      problems: [
        'KONTENA_IPAM_SUPERNET6=10.90.0.0/16: is an IPv4 network: must be an IPv6 network such as fd00:1234:5678::/48 (IPv4 pools come from KONTENA_IPAM_SUPERNET)',
      ],
    },
    {
      name: 'IPv6 supernet not a CIDR',
      env: { KONTENA_IPAM_SUPERNET6: 'fd00::' },
      problems: [
        'KONTENA_IPAM_SUPERNET6=fd00::: must be an IPv6 network in CIDR notation, e.g. fd00:1234:5678::/48',
      ],
    },
    {
      name: 'IPv6 supernet with host bits',
      env: { KONTENA_IPAM_SUPERNET6: 'fd00::1/48' },
      problems: [
        'KONTENA_IPAM_SUPERNET6=fd00::1/48: must not have host bits set (did you mean fd00::/48?)',
      ],
    },
    {
      name: 'IPv6 supernet in link-local space',
      env: { KONTENA_IPAM_SUPERNET6: 'fe80::/64' },
      problems: [
        'KONTENA_IPAM_SUPERNET6=fe80::/64: overlaps fe80::/10, link-local (RFC 4291), where no address can serve a container',
      ],
    },
    {
      name: 'IPv6 supernet longer than the default subnet length',
      env: { KONTENA_IPAM_SUPERNET6: 'fd00::/96' },
      problems: [
        "KONTENA_IPAM_SUBNET6_LENGTH=64: must be an integer from 96 to 120 (at least KONTENA_IPAM_SUPERNET6's prefix length); this is the default, so set it explicitly",
      ],
    },
    {
      name: 'IPv6 subnet length under 48',
      env: { KONTENA_IPAM_SUBNET6_LENGTH: '47' },
      problems: ['KONTENA_IPAM_SUBNET6_LENGTH=47: must be an integer from 48 to 120'],
    },
    {
      name: 'IPv6 subnet length over 120',
      env: { KONTENA_IPAM_SUBNET6_LENGTH: '121' },
      problems: ['KONTENA_IPAM_SUBNET6_LENGTH=121: must be an integer from 48 to 120'],
    },
    // KONTENA_IPAM_SOCKET
    {
      name: 'socket relative path',
      env: { KONTENA_IPAM_SOCKET: 'ipam.sock' },
      problems: [`KONTENA_IPAM_SOCKET=ipam.sock: ${SOCKET}`],
    },
    {
      name: 'socket without .sock',
      env: { KONTENA_IPAM_SOCKET: '/run/ipam.socket' },
      problems: [`KONTENA_IPAM_SOCKET=/run/ipam.socket: ${SOCKET}`],
    },
    {
      name: 'socket without a name',
      env: { KONTENA_IPAM_SOCKET: '/run/.sock' },
      problems: [`KONTENA_IPAM_SOCKET=/run/.sock: ${SOCKET}`],
    },
    {
      name: 'socket path of 108 bytes',
      env: { KONTENA_IPAM_SOCKET: `/${'s'.repeat(102)}.sock` },
      problems: [`KONTENA_IPAM_SOCKET=/${'s'.repeat(102)}.sock: ${SOCKET}`],
    },
    // KONTENA_IPAM_AVOID_HOST_ROUTES
    {
      name: 'avoid host routes maybe',
      env: { KONTENA_IPAM_AVOID_HOST_ROUTES: 'maybe' },
      problems: [`KONTENA_IPAM_AVOID_HOST_ROUTES=maybe: ${BOOL}`],
    },
    {
      name: 'avoid host routes y',
      env: { KONTENA_IPAM_AVOID_HOST_ROUTES: 'y' },
      problems: [`KONTENA_IPAM_AVOID_HOST_ROUTES=y: ${BOOL}`],
    },
    // KONTENA_IPAM_HEALTH_LISTEN
    {
      name: 'health without host',
      env: { KONTENA_IPAM_HEALTH_LISTEN: ':2275' },
      problems: [`KONTENA_IPAM_HEALTH_LISTEN=:2275: ${LISTEN}`],
    },
    {
      name: 'health port only',
      env: { KONTENA_IPAM_HEALTH_LISTEN: '2275' },
      problems: [`KONTENA_IPAM_HEALTH_LISTEN=2275: ${LISTEN}`],
    },
    {
      name: 'health without port',
      env: { KONTENA_IPAM_HEALTH_LISTEN: '127.0.0.1' },
      problems: [`KONTENA_IPAM_HEALTH_LISTEN=127.0.0.1: ${LISTEN}`],
    },
    {
      name: 'health port 0',
      env: { KONTENA_IPAM_HEALTH_LISTEN: '127.0.0.1:0' },
      problems: [`KONTENA_IPAM_HEALTH_LISTEN=127.0.0.1:0: ${LISTEN}`],
    },
    {
      name: 'health port 65536',
      env: { KONTENA_IPAM_HEALTH_LISTEN: '127.0.0.1:65536' },
      problems: [`KONTENA_IPAM_HEALTH_LISTEN=127.0.0.1:65536: ${LISTEN}`],
    },
    {
      name: 'health IPv6 without brackets',
      env: { KONTENA_IPAM_HEALTH_LISTEN: '::1:2275' },
      problems: [`KONTENA_IPAM_HEALTH_LISTEN=::1:2275: ${LISTEN}`],
    },
    // DOCKER_HOST
    {
      name: 'DOCKER_HOST unix relative path',
      env: { DOCKER_HOST: 'unix://docker.sock' },
      problems: [`DOCKER_HOST=unix://docker.sock: ${DOCKER}`],
    },
    {
      name: 'DOCKER_HOST tcp without port',
      env: { DOCKER_HOST: 'tcp://docker' },
      problems: [`DOCKER_HOST=tcp://docker: ${DOCKER}`],
    },
    {
      name: 'DOCKER_HOST ssh',
      env: { DOCKER_HOST: 'ssh://docker:22' },
      problems: [`DOCKER_HOST=ssh://docker:22: ${DOCKER}`],
    },
    {
      name: 'DOCKER_HOST with path',
      env: { DOCKER_HOST: 'tcp://docker:2375/v1' },
      problems: [`DOCKER_HOST=tcp://docker:2375/v1: ${DOCKER}`],
    },
    {
      name: 'LOG_FORMAT neither text nor json',
      env: { LOG_FORMAT: 'xml' },
      problems: ['LOG_FORMAT=xml: must be text or json'],
    },
  ];

  it.each(cases)('$name', ({ env, problems }) => {
    expect(problemsOf(env)).toEqual(problems);
  });
});

describe('loadConfig: one error for everything', () => {
  const cases = [
    {
      name: 'a single bad variable',
      env: { LOG_LEVEL: 'loud' },
      header: 'invalid configuration (1 bad environment variable):',
      names: ['LOG_LEVEL'],
    },
    {
      name: 'every bad variable in table order, one line each',
      env: { DOCKER_HOST: 'x', LOG_LEVEL: 'loud', NODE_ID: 'a/b', ETCD_WAIT_TIMEOUT: '0' },
      header: 'invalid configuration (4 bad environment variables):',
      names: ['NODE_ID', 'ETCD_WAIT_TIMEOUT', 'LOG_LEVEL', 'DOCKER_HOST'],
    },
    {
      name: 'several problems of one variable share its line',
      env: { ETCD_CA_FILE: MISSING, ETCD_ENDPOINT: 'http://a:2379,ftp://b' },
      header: 'invalid configuration (2 bad environment variables):',
      names: ['ETCD_ENDPOINT', 'ETCD_CA_FILE'],
    },
  ];

  it.each(cases)('$name', ({ env, header, names }) => {
    const error = configErrorOf(env);
    expect(error.name).toBe('ConfigError');
    expect(error.problems.map((line) => line.slice(0, line.indexOf('=')))).toEqual(names);
    expect(error.message.split('\n')).toEqual([header, ...error.problems]);
  });
});

describe('the etcd password never shows', () => {
  const cases: { name: string; env: Env }[] = [
    { name: 'password without username', env: { ETCD_PASSWORD: PASSWORD } },
    { name: 'password next to other problems', env: { ETCD_PASSWORD: PASSWORD, LOG_LEVEL: 'x' } },
    {
      name: 'password pasted into another variable',
      env: { ETCD_USERNAME: 'ipam', ETCD_PASSWORD: PASSWORD, LOG_LEVEL: `${PASSWORD}!` },
    },
    {
      name: 'password inside an endpoint URL',
      env: { ETCD_ENDPOINT: `http://ipam:${PASSWORD}@etcd:2379` },
    },
  ];

  it.each(cases)('$name', ({ env }) => {
    const error = configErrorOf(env);
    expect(error.message).not.toContain(PASSWORD);
    expect(error.problems.join('\n')).not.toContain(PASSWORD);
    expect(String(error.stack)).not.toContain(PASSWORD);
  });
});

describe('redactedConfig', () => {
  const cases = [
    {
      name: 'without credentials it is the config as is',
      env: {},
      expected: { ...DEFAULTS },
    },
    {
      name: 'the password becomes ***, file paths stay',
      env: {
        ETCD_USERNAME: 'ipam',
        ETCD_PASSWORD: PASSWORD,
        ETCD_CA_FILE: READABLE,
        ETCD_ENDPOINT: 'https://etcd:2379',
      },
      expected: {
        ...DEFAULTS,
        etcd: {
          ...DEFAULTS.etcd,
          endpoints: ['https://etcd:2379'],
          tls: { caFile: READABLE },
          auth: { username: 'ipam', password: '***' },
        },
        sources: {
          defaulted: ALL_NAMES.filter(
            (n) => !['ETCD_USERNAME', 'ETCD_PASSWORD', 'ETCD_CA_FILE', 'ETCD_ENDPOINT'].includes(n),
          ),
          lookalikes: [],
        },
      },
    },
  ];

  it.each(cases)('$name', ({ env, expected }) => {
    const config = loadConfig(env);
    const redacted = redactedConfig(config);
    expect(redacted).toEqual(expected);
    expect(JSON.stringify(redacted)).not.toContain(PASSWORD);
    // The real config keeps the real password.
    expect(config.etcd.auth?.password).toBe(env.ETCD_PASSWORD);
  });
});

describe('configWarnings', () => {
  const CLEAR_TEXT =
    'ETCD_USERNAME and ETCD_PASSWORD are sent unencrypted over http://; use https:// endpoints (ETCD_CA_FILE for a private CA)';
  const credentials = { ETCD_USERNAME: 'ipam', ETCD_PASSWORD: PASSWORD };
  const cases: { name: string; env: Env; warnings: string[] }[] = [
    // edge rows
    { name: 'defaults warn of nothing', env: {}, warnings: [] },
    {
      name: 'credentials over the default endpoint',
      env: credentials,
      warnings: [`ETCD_ENDPOINT=http://localhost:2379: ${CLEAR_TEXT}`],
    },
    // rules
    {
      name: 'http without credentials',
      env: { ETCD_ENDPOINT: 'http://a:2379,http://b:2379' },
      warnings: [],
    },
    {
      name: 'credentials over http, every endpoint named',
      env: { ...credentials, ETCD_ENDPOINT: 'http://a:2379,http://b:2379' },
      warnings: [`ETCD_ENDPOINT=http://a:2379,http://b:2379: ${CLEAR_TEXT}`],
    },
    {
      name: 'credentials over https',
      env: { ...credentials, ETCD_ENDPOINT: 'https://a:2379,https://b:2379' },
      warnings: [],
    },
    {
      name: 'credentials over https with TLS files',
      env: { ...credentials, ETCD_ENDPOINT: 'https://a:2379', ETCD_CA_FILE: READABLE },
      warnings: [],
    },
  ];

  it.each(cases)('$name', ({ env, warnings }) => {
    const found = configWarnings(loadConfig(env));
    expect(found).toEqual(warnings);
    expect(found.join('\n')).not.toContain(PASSWORD);
  });

  // Issue #19: a typo leaves the default in force without a word.
  it.each([
    {
      name: 'a plural, the right one unset',
      env: { ETCD_ENDPOINTS: 'http://etcd:2379' },
      warning:
        'ETCD_ENDPOINTS is set but not read: did you mean ETCD_ENDPOINT? ETCD_ENDPOINT is unset, so its default http://localhost:2379 is used',
    },
    {
      name: 'a missing underscore',
      env: { KONTENA_IPAM_SUBNETLENGTH: '16' },
      warning:
        'KONTENA_IPAM_SUBNETLENGTH is set but not read: did you mean KONTENA_IPAM_SUBNET_LENGTH? KONTENA_IPAM_SUBNET_LENGTH is unset, so its default 24 is used',
    },
    {
      name: 'lower case, the right one set too',
      env: { node_id: 'a', NODE_ID: 'b' },
      warning: 'node_id is set but not read: did you mean NODE_ID? NODE_ID is set and used',
    },
    {
      name: 'a dash for an underscore',
      env: { 'LOG-LEVEL': 'debug' },
      warning:
        'LOG-LEVEL is set but not read: did you mean LOG_LEVEL? LOG_LEVEL is unset, so its default 1 is used',
    },
    {
      name: 'NODE_ID without an underscore',
      env: { NODEID: 'x' },
      warning:
        'NODEID is set but not read: did you mean NODE_ID? NODE_ID is unset, so the host name is used',
    },
  ])('should name the variable meant: $name', ({ env, warning }) => {
    expect(configWarnings(loadConfig(env))).toEqual([warning]);
  });

  it.each([
    { name: 'short names one edit away', env: { NODE_IP: '10.0.0.1', NODE_ENV: 'production' } },
    {
      name: "other programs' variables",
      env: { ETCDCTL_API: '3', ETCDCTL_ENDPOINTS: 'x', PATH: '/bin' },
    },
    { name: 'the variables themselves', env: { ETCD_ENDPOINT: 'http://e:2379', LOG_LEVEL: '2' } },
  ])('should leave alone $name', ({ env }) => {
    expect(configWarnings(loadConfig(env))).toEqual([]);
  });

  it.each([
    { name: 'a short container id', nodeId: '3f2a9c1b7d4e', defaulted: true, loud: true },
    { name: 'a whole container id', nodeId: 'a'.repeat(64), defaulted: true, loud: true },
    { name: 'a host name', nodeId: 'node-1', defaulted: true, loud: false },
    { name: 'hex of another length', nodeId: '3f2a9c1b7d4', defaulted: true, loud: false },
    {
      name: 'a container id set on purpose',
      nodeId: '3f2a9c1b7d4e',
      defaulted: false,
      loud: false,
    },
  ])('should warn loudly of a NODE_ID defaulted to $name: $loud', ({ nodeId, defaulted, loud }) => {
    const base = loadConfig(defaulted ? {} : { NODE_ID: nodeId });
    const found = configWarnings({ ...base, nodeId });
    expect(found).toEqual(
      loud
        ? [
            `NODE_ID=${nodeId}: NODE_ID is unset and the host name looks like a container id. ` +
              'A re-created container gets another one, and the addresses its predecessor holds ' +
              'are never released. Set NODE_ID to a name that stays with this Docker host ' +
              '(e.g. -e NODE_ID=$(hostname) on the host)',
          ]
        : [],
    );
  });
});

describe('the loaded config is immutable', () => {
  const cases = [
    { name: 'top-level field', mutate: (c: IpamConfig) => Object.assign(c, { subnetLength: 16 }) },
    { name: 'nested field', mutate: (c: IpamConfig) => Object.assign(c.health, { port: 1 }) },
    { name: 'endpoint list', mutate: (c: IpamConfig) => c.etcd.endpoints.push('http://x') },
  ];

  it.each(cases)('$name', ({ mutate }) => {
    expect(() => mutate(loadConfig({}))).toThrow(TypeError);
  });
});
