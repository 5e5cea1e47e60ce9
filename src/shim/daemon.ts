// The long-running shim: serves ttrpc on the socket `start` bound, logs into the bundle's `log`
// FIFO, publishes events, and shuts down cleanly (docs/protocol.md §3.5; docs/architecture.md §4.3, §4.5). It begins either as a
// process `start` spawned (the socket arrives as fd 3) or as a spare daemon that a `start` call
// adopted (spare.ts: the socket was bound in this process).
import { unlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { TtrpcServer, socketPathFromAddress, unixSocketRequireSameUser } from 'ttrpc-ts';
import { native } from '../sys/native.js';
import type { ShimFlags } from './flags.js';
import { openDaemonLog } from './daemon-log.js';
import type { DaemonContext, ShimManager } from './manager.js';
import { EventPublisher } from './publisher.js';
import { daemonLogLevel, logLevelEnv, socketEnv } from './daemon-env.js';
import type { LogLevelName } from './start-input.js';
import { serveEarlyConnections } from './start.js';

const eventFlushMs = 5000;
/** How long shutdown waits for requests in flight (a runc kill, a delete) to be answered. */
const requestGraceMs = 10_000;

/** Listens on fd 3 (or -socket); the server's 'connection' handler must already be attached. */
function listenOn(server: Server, flags: ShimFlags): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    if (flags.socket) {
      const path = socketPathFromAddress(flags.socket);
      server.listen(path, () => resolve(path));
    } else {
      server.listen({ fd: 3 }, () => resolve(process.env[socketEnv]));
    }
  });
}

/** The daemon `start` spawned: its socket is fd 3. */
export async function runDaemon(flags: ShimFlags, manager: ShimManager, logLevel = daemonLogLevel(flags)): Promise<void> {
  // `start` passed the daemon's V8 flags and log level this way; they are not for what the daemon spawns.
  delete process.env.NODE_OPTIONS;
  delete process.env[logLevelEnv];
  const listener = createServer();
  await serveDaemon(flags, manager, logLevel, (server) => {
    // containerd dials as soon as `start` printed the address: its connection waits in the
    // backlog, and must find the ttrpc handler attached when the listener starts accepting.
    server.serve(listener);
    return listenOn(listener, flags);
  });
}

/** A daemon on a socket this process bound itself (a spare that `start` adopted), logging at `logLevel`. */
export async function serveBoundSocket(
  flags: ShimFlags,
  manager: ShimManager,
  listener: Server,
  path: string,
  logLevel: LogLevelName,
): Promise<void> {
  await serveDaemon(flags, manager, logLevel, (server) => {
    server.serve(listener);
    serveEarlyConnections(listener);
    return Promise.resolve(path);
  });
}

async function serveDaemon(
  flags: ShimFlags,
  manager: ShimManager,
  logLevel: LogLevelName,
  attach: (server: TtrpcServer) => Promise<string | undefined>,
): Promise<void> {
  const bundle = process.cwd();
  const log = openDaemonLog(join(bundle, 'log'), logLevel, { namespace: flags.namespace, id: flags.id });
  const logger = log.logger;
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception');
    process.exit(1);
  });
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason }, 'unhandled rejection');
  });

  const ttrpcAddress = process.env.TTRPC_ADDRESS ?? '';
  if (!ttrpcAddress) logger.warn('TTRPC_ADDRESS is not set; events cannot reach containerd');
  const publisher = new EventPublisher({ ttrpcAddress, namespace: flags.namespace, logger });
  const server = new TtrpcServer({
    // containerd's ttrpc server and ours both accept only peers with our (effective) uid and gid.
    authorize: unixSocketRequireSameUser((fd) => native().getPeerCred(fd)),
  });
  let path: string | undefined;

  let shuttingDown = false;
  const shutdown = (reason: string): void => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ reason }, 'shim shutting down');
    // The socket goes first: containerd's Delete of the last container returns as soon as
    // `delete` printed its saved answer, and a client may look for the socket right then
    // (containerd's TestShimDoesNotLeakSockets does). A start for this group now binds anew.
    if (path) {
      try {
        unlinkSync(path);
      } catch {
        /* already gone */
      }
    }
    void (async () => {
      // Accept nothing more, and let every request in flight (the Shutdown call itself, a Kill
      // still running runc) be answered first, but not forever.
      await server.shutdown({ graceMs: requestGraceMs });
      await publisher.close(eventFlushMs);
      logger.info('shim exited');
      log.close();
      process.exit(0);
    })();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  const ctx: DaemonContext = { flags, bundle, logger, publisher, server, shutdown };
  await manager.serve(ctx);
  path = await attach(server);
  logger.info({ socket: path }, 'shim serving');
}
