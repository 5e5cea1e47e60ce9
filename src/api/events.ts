// Task event topics, their payload types, and the Forward request the shim sends to
// containerd's ttrpc Events service.
import { containerd } from './gen/proto.js';
import { packAny, type AnyMessage } from './any.js';
import { encodeMessage, type NamedMessage } from './codec.js';
import {
  TaskCheckpointedType,
  TaskCreateType,
  TaskDeleteType,
  TaskExecAddedType,
  TaskExecStartedType,
  TaskExitType,
  TaskOOMType,
  TaskPausedType,
  TaskResumedType,
  TaskStartType,
} from './messages.js';
import { nowTimestamp, type Timestamp } from './timestamp.js';

export const EVENTS_SERVICE = 'containerd.services.events.ttrpc.v1.Events';
export const EVENTS_FORWARD_METHOD = 'Forward';

export const Topic = {
  TaskCreate: '/tasks/create',
  TaskStart: '/tasks/start',
  TaskExit: '/tasks/exit',
  TaskDelete: '/tasks/delete',
  TaskOOM: '/tasks/oom',
  TaskExecAdded: '/tasks/exec-added',
  TaskExecStarted: '/tasks/exec-started',
  TaskPaused: '/tasks/paused',
  TaskResumed: '/tasks/resumed',
  TaskCheckpointed: '/tasks/checkpointed',
} as const;

export type TaskTopic = (typeof Topic)[keyof typeof Topic];

const payloadTypes = {
  [Topic.TaskCreate]: TaskCreateType,
  [Topic.TaskStart]: TaskStartType,
  [Topic.TaskExit]: TaskExitType,
  [Topic.TaskDelete]: TaskDeleteType,
  [Topic.TaskOOM]: TaskOOMType,
  [Topic.TaskExecAdded]: TaskExecAddedType,
  [Topic.TaskExecStarted]: TaskExecStartedType,
  [Topic.TaskPaused]: TaskPausedType,
  [Topic.TaskResumed]: TaskResumedType,
  [Topic.TaskCheckpointed]: TaskCheckpointedType,
} as const satisfies Record<TaskTopic, { readonly typeName: string }>;

type PayloadInit<T> = T extends NamedMessage<infer I, infer _M> ? I : never;

/** The init shape of the payload of `topic`, e.g. ITaskExit for '/tasks/exit'. */
export type TaskEventPayload<T extends TaskTopic> = PayloadInit<(typeof payloadTypes)[T]>;

export interface TaskEvent {
  readonly topic: TaskTopic;
  readonly event: AnyMessage;
}

/** Packs the payload of `topic` into its Any (type URL = the message's full name). */
export function buildTaskEvent<T extends TaskTopic>(topic: T, payload: TaskEventPayload<T>): TaskEvent {
  const type = payloadTypes[topic] as NamedMessage<TaskEventPayload<T>>;
  return { topic, event: packAny(type, payload) };
}

/**
 * The Forward request body for one event. containerd rejects a zero timestamp, so the
 * envelope always carries one (the time the event happened, default now).
 */
export function encodeForwardRequest(namespace: string, event: TaskEvent, timestamp: Timestamp = nowTimestamp()): Buffer {
  return encodeMessage(containerd.services.events.ttrpc.v1.ForwardRequest, {
    envelope: { timestamp, namespace, topic: event.topic, event: event.event },
  });
}
