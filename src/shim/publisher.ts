// Task events to containerd: ttrpc `Events/Forward` on $TTRPC_ADDRESS (docs/protocol.md §10.1).
// One ordered, bounded queue drained by one worker, so events of a container reach containerd
// in the order they were published, publish() never blocks a request handler, and a
// containerd that is down (restarting) costs retries, not a stalled shim.
import { EVENTS_FORWARD_METHOD, EVENTS_SERVICE, encodeForwardRequest, type TaskEvent } from '../api/events.js';
import { toTimestamp } from '../api/timestamp.js';
import { TtrpcClient } from 'ttrpc-ts';
import type { Logger } from './logger.js';

export interface Publisher {
  publish(event: TaskEvent): void;
}

interface QueuedEvent {
  event: TaskEvent;
  at: Date;
  attempts: number;
}

export interface EventPublisherOptions {
  ttrpcAddress: string;
  namespace: string;
  logger: Logger;
  queueLimit?: number;
  maxAttempts?: number;
  forwardTimeoutMs?: number;
  /** Back-off before retry n is n times this (linear, like the Go shim). */
  retryStepMs?: number;
}

export class EventPublisher implements Publisher {
  private readonly queue: QueuedEvent[] = [];
  private client: TtrpcClient | undefined;
  private draining: Promise<void> | undefined;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private wakeRetry: (() => void) | undefined;
  private readonly queueLimit: number;
  private readonly maxAttempts: number;
  private readonly forwardTimeoutMs: number;
  private readonly retryStepMs: number;

  constructor(private readonly options: EventPublisherOptions) {
    this.queueLimit = options.queueLimit ?? 2048;
    this.maxAttempts = options.maxAttempts ?? 6;
    this.forwardTimeoutMs = options.forwardTimeoutMs ?? 5000;
    this.retryStepMs = options.retryStepMs ?? 1000;
  }

  publish(event: TaskEvent): void {
    const topic = event.topic;
    if (this.closed) {
      this.options.logger.warn({ topic }, 'event published after the publisher closed; dropped');
      return;
    }
    if (this.queue.length >= this.queueLimit) {
      this.options.logger.error({ topic }, 'event queue full; event dropped');
      return;
    }
    this.queue.push({ event, at: new Date(), attempts: 0 });
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
    });
  }

  /** Waits until the queue is empty or `timeoutMs` passed; then stops and closes the connection. */
  async close(timeoutMs: number): Promise<void> {
    this.closed = true;
    if (this.draining) {
      // A pending back-off should not hold up the flush: retry now.
      this.wakeRetry?.();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      });
      await Promise.race([this.draining, timeout]);
      clearTimeout(timer);
    }
    if (this.queue.length > 0) {
      this.options.logger.error({ dropped: this.queue.length }, 'events not delivered before shutdown');
      this.queue.length = 0;
    }
    this.cancelRetry();
    this.client?.close();
    this.client = undefined;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const item = this.queue[0]!;
      try {
        await this.forward(item);
        this.queue.shift();
      } catch (err) {
        item.attempts++;
        this.client?.close();
        this.client = undefined;
        if (item.attempts >= this.maxAttempts) {
          this.queue.shift();
          this.options.logger.error({ topic: item.event.topic, err: String(err) }, 'event dropped after retries');
          continue;
        }
        this.options.logger.warn({ topic: item.event.topic, attempt: item.attempts, err: String(err) }, 'event forward failed; retrying');
        await this.backoff(this.closed ? 50 : item.attempts * this.retryStepMs);
      }
    }
  }

  private backoff(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wakeRetry = () => {
        this.cancelRetry();
        resolve();
      };
      this.retryTimer = setTimeout(() => {
        this.cancelRetry();
        resolve();
      }, ms);
    });
  }

  private cancelRetry(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.wakeRetry = undefined;
  }

  private async forward(item: QueuedEvent): Promise<void> {
    if (!this.client) {
      this.client = await TtrpcClient.connect(this.options.ttrpcAddress);
    }
    const request = encodeForwardRequest(this.options.namespace, item.event, toTimestamp(item.at));
    await this.client.call(EVENTS_SERVICE, EVENTS_FORWARD_METHOD, request, {
      timeoutMs: this.forwardTimeoutMs,
      metadata: { 'containerd-namespace-ttrpc': this.options.namespace },
    });
  }
}
