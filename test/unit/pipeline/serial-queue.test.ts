import { describe, expect, it } from 'vitest';
import { serialQueue } from '../../../src/pipeline/served-model.ts';

describe('serialQueue', () => {
  it('runs jobs one at a time in order, refuses past maxWaiting at once, and skips a job whose client left', async () => {
    const q = serialQueue({ maxWaiting: 2, refuse: (reason) => new Error(`refused: ${reason}`) });
    const log: string[] = [];
    let release!: () => void;
    const first = q(() => new Promise<string>((r) => { log.push('a start'); release = () => r('a'); }));
    await new Promise((r) => setTimeout(r, 0)); // the first job is running, not waiting
    const gone = new AbortController();
    const second = q(async () => { log.push('b'); return 'b'; }, gone.signal);
    const third = q(async () => { log.push('c'); return 'c'; });
    await expect(q(async () => 'd')).rejects.toThrow('refused: busy: 2 requests are waiting for the model');
    gone.abort(new Error('client left'));
    await Promise.resolve();
    release();
    expect(await first).toBe('a');
    await expect(second).rejects.toThrow('client left');
    expect(await third).toBe('c');
    expect(log).toEqual(['a start', 'c']);
    // A failed job does not stop the queue, and the count of waiting jobs recovers.
    await expect(q(async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    expect(await q(async () => 'e')).toBe('e');
  });

  it('answers a job that waited past the deadline with the late error instead of running it', async () => {
    const q = serialQueue({ deadlineMs: 50, refuse: (reason) => new Error(`refused: ${reason}`) });
    const ran: string[] = [];
    const slow = q(() => new Promise<string>((r) => setTimeout(() => { ran.push('slow'); r('slow'); }, 120)));
    const behind = q(async () => { ran.push('behind'); return 'behind'; });
    expect(await slow).toBe('slow');
    await expect(behind).rejects.toThrow(/^refused: waited \d+ s for the model, past the 0 s deadline/);
    expect(ran).toEqual(['slow']);
    // A job that finds the queue free runs at once.
    expect(await q(async () => 'next')).toBe('next');
  });
});
