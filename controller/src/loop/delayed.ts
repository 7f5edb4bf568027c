/**
 * Keys waiting for a time: `requeueAfter`, backoff retries and other delayed adds. One
 * clock sleep is armed for the earliest due time, whatever the number of keys; a key
 * scheduled twice keeps its earlier time.
 */
import type { Clock } from '@toolbelt/schema';

interface Entry {
  key: string;
  at: number;
}

export class DelayedKeys {
  readonly #clock: Clock;
  readonly #onDue: (key: string) => void;
  /** The live due time of each key; heap entries that disagree are stale and skipped. */
  readonly #dueAt = new Map<string, number>();
  #heap: Entry[] = [];
  #timer: { at: number; abort: AbortController } | undefined;

  constructor(clock: Clock, onDue: (key: string) => void) {
    this.#clock = clock;
    this.#onDue = onDue;
  }

  get size(): number {
    return this.#dueAt.size;
  }

  /** When `key` is due, if it is waiting. */
  dueAt(key: string): number | undefined {
    return this.#dueAt.get(key);
  }

  /** Calls `onDue(key)` at clock time `at`, unless it is already due earlier. */
  schedule(key: string, at: number): void {
    const current = this.#dueAt.get(key);
    if (current !== undefined && current <= at) return;
    this.#dueAt.set(key, at);
    this.#push({ key, at });
    this.#arm();
  }

  /** Forgets every key and disarms the timer. */
  clear(): void {
    this.#dueAt.clear();
    this.#heap = [];
    this.#disarm();
  }

  #arm(): void {
    this.#dropStale();
    const next = this.#heap[0];
    if (!next) return this.#disarm();
    if (this.#timer && this.#timer.at <= next.at) return;
    this.#disarm();
    const abort = new AbortController();
    this.#timer = { at: next.at, abort };
    this.#clock.sleep(next.at - this.#clock.now(), abort.signal).then(
      () => this.#fire(abort),
      () => {},
    );
  }

  #disarm(): void {
    this.#timer?.abort.abort();
    this.#timer = undefined;
  }

  #fire(abort: AbortController): void {
    if (this.#timer?.abort !== abort) return;
    this.#timer = undefined;
    const now = this.#clock.now();
    const due: string[] = [];
    for (this.#dropStale(); this.#heap[0] && this.#heap[0].at <= now; this.#dropStale()) {
      const { key } = this.#pop()!;
      this.#dueAt.delete(key);
      due.push(key);
    }
    this.#arm();
    for (const key of due) this.#onDue(key);
  }

  #dropStale(): void {
    while (this.#heap[0] && this.#dueAt.get(this.#heap[0].key) !== this.#heap[0].at) this.#pop();
  }

  // --- a binary min-heap on `at` ------------------------------------------------------

  #push(entry: Entry): void {
    const heap = this.#heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.at <= entry.at) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = entry;
  }

  #pop(): Entry | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length === 0 || !last) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && heap[right]!.at < heap[left]!.at ? right : left;
      if (heap[child]!.at >= last.at) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}
