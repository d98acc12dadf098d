export { ConfigError } from './config-error.js';
export { ipamConfig, type ConfigNamespace } from './config-namespace.js';
export { configWarnings } from './config-warnings.js';
export {
  type IpamConfig,
  type LogFormatName,
  type LogLevelName,
  type SupernetConfig,
} from './ipam-config.js';
export { IpamConfigModule } from './ipam-config.module.js';
export { loadConfig, redactedConfig } from './load-config.js';
