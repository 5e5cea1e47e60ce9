// containerd's gRPC Tasks and Events APIs, the way Docker and Kubernetes drive a runtime (CloseIO, Update,
// events, Metrics), through tsshim and through the Go shim (io.containerd.runc.v2): the Go shim run proves
// the client, so a tsshim failure is tsshim's.
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { afterAll, expect, it } from 'vitest';
import { ContainerdClient, GrpcCallError, GrpcStatus } from './clients/containerd.js';
import { catchesSignal, describeEachContainerd, runtimes, waitFor } from './harness/index.js';

const SIGKILL = 9;

for (const runtime of [runtimes.tsshim, runtimes.runc])
  describeEachContainerd(`containerd gRPC API through ${runtime}`, (suite) => {
    let client: ContainerdClient | undefined;
    const grpc = (): ContainerdClient => (client ??= new ContainerdClient(suite.containerd.address));
    const newId = (what: string): string => `${what}-${randomBytes(3).toString('hex')}`;

    afterAll(() => client?.close());

    it('subscribes to task events, then Get, ListPids, Kill and Wait a task', async () => {
      const { containerd, fixtures } = suite;
      const ns = containerd.namespace;
      const id = newId('grpc-get');
      const events = await grpc().subscribe(ns, ['topic~="^/tasks/"']);
      await containerd.ctrOk(['run', '-d', '--runtime', runtime, fixtures.image, id, 'sleep', '300']);

      const started = await events.next((e) => e.event?.kind === 'TaskStart' && e.event.containerId === id);
      expect(started.topic).toBe('/tasks/start');
      expect(started.namespace).toBe(ns);
      const create = events.received.find((e) => e.event?.kind === 'TaskCreate' && e.event.containerId === id);
      expect(create?.topic).toBe('/tasks/create');

      const task = await grpc().get(ns, id);
      expect(task.status).toBe('RUNNING');
      expect(started.event?.kind === 'TaskStart' && started.event.pid).toBe(task.pid);
      expect((await grpc().listPids(ns, id)).map((p) => p.pid)).toContain(task.pid);

      await grpc().kill(ns, id, SIGKILL);
      const exit = await events.next((e) => e.event?.kind === 'TaskExit' && e.event.containerId === id);
      expect(exit.event).toMatchObject({ kind: 'TaskExit', id, pid: task.pid, exitStatus: 137 });
      expect((await grpc().wait(ns, id)).exitStatus).toBe(137);
      expect((await grpc().get(ns, id)).status).toBe('STOPPED');

      // No wait for /tasks/delete: the Go shim sends it just before it exits and may not get it out
      // (seen with containerd 2.1).
      await containerd.ctrOk(['tasks', 'delete', id]);
      await containerd.ctrOk(['containers', 'delete', id]);
      events.close();
      await expect(grpc().get(ns, id)).rejects.toMatchObject({ name: 'GrpcCallError', code: GrpcStatus.NOT_FOUND });
    });

    it("the async iterator yields a container's task events", async () => {
      const { containerd, fixtures } = suite;
      const ns = containerd.namespace;
      const id = newId('grpc-iter');
      const events = await grpc().subscribe(ns, ['topic~="^/tasks/"']);
      await containerd.ctrOk(['run', '--rm', '--runtime', runtime, fixtures.image, id, 'true']);
      const giveUp = setTimeout(() => events.close(), 30_000); // ends the loop below if an event never comes
      const topics: string[] = [];
      for await (const e of events) {
        if (e.event?.containerId !== id) continue;
        topics.push(e.topic);
        if (e.topic === '/tasks/exit') break;
      }
      clearTimeout(giveUp);
      events.close();
      expect(topics).toEqual(['/tasks/create', '/tasks/start', '/tasks/exit']);
    });

    it('Update applies OCI resources; Metrics returns the cgroup stats', async () => {
      const { containerd, fixtures } = suite;
      const ns = containerd.namespace;
      const id = newId('grpc-update');
      await containerd.ctrOk(['run', '-d', '--runtime', runtime, fixtures.image, id, 'sleep', '300']);
      await grpc().update(ns, id, { memory: { limit: 64 * 1024 * 1024 }, cpu: { shares: 512 } });
      // ctr puts a container in the cgroup /<namespace>/<id> (cgroup v1 here).
      expect(readFileSync(`/sys/fs/cgroup/memory/${ns}/${id}/memory.limit_in_bytes`, 'utf8').trim()).toBe(String(64 * 1024 * 1024));
      expect(readFileSync(`/sys/fs/cgroup/cpu/${ns}/${id}/cpu.shares`, 'utf8').trim()).toBe('512');

      const [metric] = await grpc().metrics(ns, [id]);
      expect(metric?.id).toBe(id);
      expect(metric?.data?.typeUrl).toMatch(/^io\.containerd\.cgroups\.v[12]\.Metrics$/);
      expect(metric?.data?.value.length).toBeGreaterThan(0);
      await containerd.ctrOk(['tasks', 'delete', '--force', id]);
      await containerd.ctrOk(['containers', 'delete', id]);
    });

    it('Pause and Resume: the task and its running exec report PAUSED, then RUNNING', async () => {
      const { containerd, fixtures } = suite;
      const ns = containerd.namespace;
      const id = newId('grpc-pause');
      await containerd.ctrOk(['run', '-d', '--runtime', runtime, fixtures.image, id, 'sleep', '300']);
      await grpc().exec(ns, id, 'ex1', { args: ['sleep', '300'], cwd: '/', env: ['PATH=/bin'] });
      await grpc().start(ns, id, 'ex1');
      await grpc().pause(ns, id);
      expect((await grpc().get(ns, id)).status).toBe('PAUSED');
      expect((await grpc().get(ns, id, 'ex1')).status).toBe('PAUSED');
      await grpc().resume(ns, id);
      expect((await grpc().get(ns, id)).status).toBe('RUNNING');
      expect((await grpc().get(ns, id, 'ex1')).status).toBe('RUNNING');
      await grpc().kill(ns, id, SIGKILL);
      await grpc().wait(ns, id);
      await containerd.ctrOk(['tasks', 'delete', id]);
      await containerd.ctrOk(['containers', 'delete', id]);
    });

    it('CloseIO gives the process EOF on stdin', async () => {
      const { containerd, fixtures } = suite;
      const ns = containerd.namespace;
      const id = newId('grpc-closeio');
      const ctr = containerd.spawnCtr(['run', '--runtime', runtime, fixtures.image, id, 'cat']);
      ctr.stdin.write('through stdin\n');
      await ctr.waitForOutput(/through stdin/);
      // ctr sends CloseIO itself when its stdin ends; SIGKILLed, it sends nothing. The shim keeps its own
      // writer on the stdin FIFO, so `cat` goes on until CloseIO closes that writer.
      ctr.kill('SIGKILL');
      await ctr.exited;
      // cat still reads its stdin after that writer died: a line from a new client comes back.
      const attach = containerd.spawnCtr(['task', 'attach', id]);
      attach.stdin.write('after the client died\n');
      await attach.waitForOutput(/after the client died/);
      attach.kill('SIGKILL');
      await attach.exited;
      expect((await grpc().get(ns, id)).status).toBe('RUNNING');
      await grpc().closeIO(ns, id);
      expect((await grpc().wait(ns, id, '', 20_000)).exitStatus).toBe(0);
      await containerd.ctrOk(['tasks', 'delete', id]);
      await containerd.ctrOk(['containers', 'delete', id]);
    });

    it('the fixture pause image (CRI sandbox image) runs until SIGTERM, then exits 0', async () => {
      const { containerd, fixtures } = suite;
      const ns = containerd.namespace;
      const id = newId('grpc-pause');
      await containerd.ctrOk(['run', '-d', '--runtime', runtime, fixtures.pauseImage, id]);
      const { pid, status } = await grpc().get(ns, id);
      expect(status).toBe('RUNNING');
      // As pid 1 of its namespace, pause ignores a SIGTERM that comes before its handler is installed.
      expect(await waitFor(() => catchesSignal(pid, 15), 10_000)).toBe(true);
      await grpc().kill(ns, id, 15);
      expect((await grpc().wait(ns, id, '', 10_000)).exitStatus).toBe(0);
      await containerd.ctrOk(['tasks', 'delete', id]);
      await containerd.ctrOk(['containers', 'delete', id]);
    });

    it('maps errors to GrpcCallError with the gRPC code', async () => {
      const err = await grpc()
        .get(suite.containerd.namespace, 'no-such-container')
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GrpcCallError);
      expect((err as GrpcCallError).code).toBe(GrpcStatus.NOT_FOUND);
    });
  });
