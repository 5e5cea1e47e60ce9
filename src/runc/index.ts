// Public surface of the runc client.
export { Runc } from './client.js';
export { RuncError, isNotFoundKillError, killNotFoundReason, lastErrorMessage } from './errors.js';
export { readPidFile } from './pidfile.js';
export type { RuncState } from './types.js';
export { ConsoleSocket } from './console-socket.js';
