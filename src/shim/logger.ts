// The shim's Logger interface (the part of pino's API the shim uses: the daemon logs through
// pino, see daemon-log.ts), and a small logger of the same line format for the short-lived
// `delete` action, which writes to stderr: loading pino there would cost every task deletion
// ~10 ms, since containerd runs `delete` after each one.
import { writeSync } from 'node:fs';

export interface LogFn {
  (fields: object, msg?: string): void;
  (msg: string): void;
}

/** What the shim logs through (a subset of pino's API, so a pino logger fits too). */
export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  /** A logger that adds `bindings` to every line. */
  child(bindings: Record<string, unknown>): Logger;
}

/** pino's level numbers, so tools that read pino lines read ours. */
const levels = { debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;
type LevelName = keyof typeof levels;

/** Errors as pino's default serializer shows them (JSON.stringify would print `{}`). */
function serializeValue(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const { name, message, stack } = value;
    const code = (value as NodeJS.ErrnoException).code;
    return code === undefined ? { type: name, message, stack } : { type: name, message, code, stack };
  }
  return typeof value === 'bigint' ? value.toString() : value;
}

class StderrLogger implements Logger {
  private readonly minLevel: number;
  private readonly prefix: string;
  readonly debug: LogFn;
  readonly info: LogFn;
  readonly warn: LogFn;
  readonly error: LogFn;
  readonly fatal: LogFn;

  constructor(minLevel: number, prefix: string) {
    this.minLevel = minLevel;
    this.prefix = prefix;
    const fn = (level: LevelName): LogFn =>
      ((fields: object | string, msg?: string): void => this.write(levels[level], fields, msg)) as LogFn;
    this.debug = fn('debug');
    this.info = fn('info');
    this.warn = fn('warn');
    this.error = fn('error');
    this.fatal = fn('fatal');
  }

  child(bindings: Record<string, unknown>): Logger {
    const extra = JSON.stringify(bindings, serializeValue).slice(1, -1);
    return new StderrLogger(this.minLevel, extra ? `${this.prefix},${extra}` : this.prefix);
  }

  private write(level: number, fields: object | string, msg: string | undefined): void {
    if (level < this.minLevel) return;
    let text = `{"level":${level},"time":"${new Date().toISOString()}",${this.prefix}`;
    if (typeof fields === 'string') {
      msg = fields;
    } else {
      let body: string;
      try {
        body = JSON.stringify(fields, serializeValue).slice(1, -1);
      } catch (err) {
        // A circular or otherwise unserializable field must not turn a log call into a failure.
        body = `"logError":${JSON.stringify(String(err))}`;
      }
      if (body) text += `,${body}`;
    }
    if (msg !== undefined) text += `,"msg":${JSON.stringify(msg)}`;
    try {
      writeSync(2, `${text}}\n`);
    } catch {
      // stderr gone: nothing to tell anyone.
    }
  }
}

/** A logger writing to stderr (containerd logs what `delete` writes there); `bindings` go on every line. */
export function stderrLogger(debug: boolean, bindings: Record<string, string>): Logger {
  // Everything after "time" is fixed per logger: encode it once.
  const prefix = JSON.stringify({ pid: process.pid, ...bindings }).slice(1, -1);
  return new StderrLogger(debug ? levels.debug : levels.info, prefix);
}
