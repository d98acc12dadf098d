import { silenceNestLogs } from '#app/logging';

// Unit runs print results only: code that logs through Nest's Logger writes nowhere unless a
// test captures its lines (captureNestLogs) to assert on them.
silenceNestLogs();
