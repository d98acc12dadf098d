// The one logger of the plugin and the commands, and the unit tests' handles on Nest's Logger.
export {
  IpamLogger,
  STDERR_ONLY,
  STDOUT_AND_STDERR,
  type LogEvent,
  type LogOutput,
} from './ipam-logger.js';
export { captureNestLogs, silenceNestLogs, type LogCapture } from './log-capture.js';
export {
  escapeControlCharacters,
  jsonFormat,
  logFormatNamed,
  textFormat,
  type LogFormat,
  type LogRecord,
} from './log-format.js';
