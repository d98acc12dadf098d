/**
 * Thrown by {@link loadConfig} when the environment is invalid. It always reports every bad
 * variable at once (one `NAME=value: what is expected` line each), so an operator can fix
 * the whole environment in one go instead of one restart per mistake. Secrets are shown as `***`.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  constructor(readonly problems: string[]) {
    super(
      [
        `invalid configuration (${problems.length} bad environment variable${problems.length === 1 ? '' : 's'}):`,
        ...problems,
      ].join('\n'),
    );
  }
}
