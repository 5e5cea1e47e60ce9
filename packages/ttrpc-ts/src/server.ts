import { EventEmitter } from 'node:events';
import type { Server, Socket } from 'node:net';
import { FrameBudget } from './frame-budget.js';
import { ServerConnection } from './server-connection.js';
import type { MethodEntry, MethodTable, StreamMethod, UnaryHandler } from './server-connection.js';
import { Code, TtrpcError } from './status.js';

export interface TtrpcServerOptions {
  /**
   * Called for each accepted connection before any byte is read; returning false (or throwing)
   * closes it. See unixSocketRequireSameUser() for Go's ready-made peer-credential check.
   */
  authorize?: (socket: Socket) => boolean;
  /** Told about socket errors (ECONNRESET, EPIPE, ...); the connection closes after each. For logging. */
  onSocketError?: (error: Error, socket: Socket) => void;
  /** Connections open at once; one more is closed as soon as it is accepted. Default 256. */
  maxConnections?: number;
  /**
   * Bytes all connections together may hold for frames longer than `freeFrameLength` that span socket
   * reads (default 8 MiB: two frames of the largest size); such a frame waits, its connection not read, until it fits.
   * Frames up to `freeFrameLength` (default 64 KiB) always fit. Worst case held for partial frames:
   * maxConnections * freeFrameLength + partialFrameBudget.
   */
  partialFrameBudget?: number;
  freeFrameLength?: number;
}

export const DEFAULT_MAX_CONNECTIONS = 256;
export const DEFAULT_PARTIAL_FRAME_BUDGET = 8 << 20;
export const DEFAULT_FREE_FRAME_LENGTH = 64 << 10;

export interface TtrpcServerEvents {
  /** A connection was accepted and authorized. */
  connection: [socket: Socket];
  /** An accepted connection closed; `open` is the number still open. */
  disconnect: [socket: Socket, open: number];
  /** A connection was closed at once because `maxConnections` were open. */
  refused: [socket: Socket];
}

/**
 * A ttrpc server for unary and streaming methods. Attach it to any number of already created net.Servers
 * (the shim's listens on an inherited fd); `close()` stops them and ends every connection.
 */
export class TtrpcServer extends EventEmitter<TtrpcServerEvents> implements MethodTable {
  private readonly services = new Map<string, ReadonlyMap<string, MethodEntry>>();
  private readonly attachedServers = new Map<Server, (socket: Socket) => void>();
  private readonly connections = new Set<ServerConnection>();
  private readonly authorize: ((socket: Socket) => boolean) | undefined;
  private readonly onSocketError: ((error: Error, socket: Socket) => void) | undefined;
  private readonly maxConnections: number;
  /** Shared by every connection's frame reader. */
  readonly partialFrameBudget: FrameBudget;
  private closing = false;

  constructor(options: TtrpcServerOptions = {}) {
    super();
    this.authorize = options.authorize;
    this.onSocketError = options.onSocketError;
    this.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    this.partialFrameBudget = new FrameBudget(
      options.partialFrameBudget ?? DEFAULT_PARTIAL_FRAME_BUDGET,
      options.freeFrameLength ?? DEFAULT_FREE_FRAME_LENGTH,
    );
  }

  /**
   * Registers a fully-qualified service (`example.v1.Greeter`): its unary methods and its streaming
   * methods (see StreamMethod), by method name.
   */
  register(serviceName: string, methods: Record<string, UnaryHandler>, streams: Record<string, StreamMethod> = {}): void {
    if (this.services.has(serviceName)) throw new Error(`ttrpc: duplicate service ${serviceName} registered`);
    const table = new Map<string, MethodEntry>();
    for (const [name, handler] of Object.entries(methods)) table.set(name, { kind: 'unary', handler });
    for (const [name, method] of Object.entries(streams)) {
      if (table.has(name)) throw new Error(`ttrpc: ${serviceName}/${name} registered as unary and as stream`);
      table.set(name, { kind: 'stream', method });
    }
    this.services.set(serviceName, table);
  }

  lookup(service: string, method: string): MethodEntry | TtrpcError {
    const methods = this.services.get(service);
    if (methods === undefined) return new TtrpcError(Code.Unimplemented, `service ${service}`);
    return methods.get(method) ?? new TtrpcError(Code.Unimplemented, `method ${method}`);
  }

  /** Serves connections accepted by `server` (listening already or later). */
  serve(server: Server): void {
    if (this.closing) throw new Error('ttrpc: server closed');
    if (this.attachedServers.has(server)) return;
    const onConnection = (socket: Socket): void => this.accept(socket);
    this.attachedServers.set(server, onConnection);
    server.on('connection', onConnection);
  }

  /** Number of open, authorized connections. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Stops accepting and closes every connection now; calls in flight are cancelled. */
  async close(): Promise<void> {
    const serversClosed = this.stopAccepting();
    const connectionsClosed = this.waitForConnections();
    for (const connection of this.connections) connection.destroy();
    await Promise.all([serversClosed, connectionsClosed]);
  }

  /**
   * Stops accepting, lets calls in flight finish and be answered, then closes the connections.
   * With `graceMs`, connections whose calls are still running after that long are closed anyway
   * (their calls cancelled), so a handler that never returns cannot hold the process up.
   */
  async shutdown(options: { graceMs?: number } = {}): Promise<void> {
    const serversClosed = this.stopAccepting();
    const connectionsClosed = this.waitForConnections();
    for (const connection of this.connections) connection.closeWhenDone();
    let timer: NodeJS.Timeout | undefined;
    if (options.graceMs !== undefined && this.connections.size > 0) {
      timer = setTimeout(() => {
        for (const connection of this.connections) connection.destroy();
      }, options.graceMs);
    }
    try {
      await Promise.all([serversClosed, connectionsClosed]);
    } finally {
      clearTimeout(timer);
    }
  }

  private accept(socket: Socket): void {
    if (this.closing || !this.isAuthorized(socket)) {
      socket.destroy();
      return;
    }
    if (this.connections.size >= this.maxConnections) {
      socket.destroy();
      this.emit('refused', socket);
      return;
    }
    const connection = new ServerConnection(
      socket,
      this,
      (closed) => {
        this.connections.delete(closed);
        this.emit('disconnect', closed.socket, this.connections.size);
      },
      (error) => this.onSocketError?.(error, socket),
      this.partialFrameBudget,
    );
    this.connections.add(connection);
    this.emit('connection', socket);
  }

  private isAuthorized(socket: Socket): boolean {
    if (this.authorize === undefined) return true;
    try {
      return this.authorize(socket);
    } catch {
      return false;
    }
  }

  private stopAccepting(): Promise<void> {
    this.closing = true;
    const closes = [...this.attachedServers].map(
      ([server, onConnection]) =>
        new Promise<void>((resolve) => {
          server.off('connection', onConnection);
          // close() errors when the server is not listening; either way it accepts nothing more.
          server.close(() => resolve());
        }),
    );
    this.attachedServers.clear();
    return Promise.all(closes).then(() => undefined);
  }

  private waitForConnections(): Promise<void> {
    if (this.connections.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const onDisconnect = (_socket: Socket, open: number): void => {
        if (open > 0) return;
        this.off('disconnect', onDisconnect);
        resolve();
      };
      this.on('disconnect', onDisconnect);
    });
  }
}
