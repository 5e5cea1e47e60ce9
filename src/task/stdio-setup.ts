// Gets a process's stdio ready for runc: pipes (or a logging binary) handed to runc, or, with
// a terminal, a console socket on which runc sends the pty master.
import { ConsoleSocket } from '../runc/index.js';
import type { Logger } from '../shim/logger.js';
import { attachConsole } from '../stdio/console-io.js';
import {
  createProcessIO,
  type IOOwner,
  type ProcessIdentity,
  type RuncStdio,
  type StdioHandle,
  type StdioPaths,
} from '../stdio/process-io.js';

export interface PreparedStdio {
  runcStdio: RuncStdio;
  consoleSocket: string | undefined;
  /** After runc returned: takes the pty master if any and gives the process's stdio handle. */
  complete(): Promise<StdioHandle>;
  /** runc failed: release everything. */
  abort(): Promise<void>;
}

export async function prepareStdio(paths: StdioPaths, owner: IOOwner, identity: ProcessIdentity, logger: Logger): Promise<PreparedStdio> {
  if (!paths.terminal) {
    const io = await createProcessIO(paths, owner, identity, logger);
    return {
      runcStdio: io.runcStdio,
      consoleSocket: undefined,
      complete: async () => {
        io.afterStart();
        return io;
      },
      abort: async () => io.close(),
    };
  }
  const socket = await ConsoleSocket.create();
  return {
    runcStdio: ['ignore', 'ignore', 'ignore'],
    consoleSocket: socket.path,
    complete: async () => {
      try {
        return attachConsole(await socket.receiveMaster(), paths, logger);
      } finally {
        await socket.close();
      }
    },
    abort: () => socket.close(),
  };
}
