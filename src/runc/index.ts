// Public surface of the runc client.
export { Runc, type CallOptions, type CreateOptions, type ExecOptions, type RestoreOptions, type RuncOptions, type RuncStdio } from './client.js';
export { RuncError, isNotFoundKillError, killNotFoundReason, lastErrorMessage, type KillNotFoundReason } from './errors.js';
export { PidFileError, readPidFile, type ReadPidFileOptions } from './pidfile.js';
export type { CheckpointFlags, CreateFlags, RestoreFlags } from './argv.js';
export type { RuncFeatures, RuncState } from './types.js';
export { ConsoleSocket, ConsoleSocketError } from './console-socket.js';
