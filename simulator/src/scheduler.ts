/**
 * Wakes droplets when their boot or action is due, on the simulator's clock. One sleep is
 * armed at a time, for the earliest due entry (a min-heap holds the rest), so thousands of
 * booting droplets cost one timer and one abort listener, not thousands.
 */
import type { Clock } from '@toolbelt/schema/clock';

interface Entry {
  readonly at: number;
  readonly key: number;
}

/** A binary min-heap of entries by `at`. */
class MinHeap {
  readonly #items: Entry[] = [];

  get size(): number {
    return this.#items.length;
  }

  peek(): Entry | undefined {
    return this.#items[0];
  }

  push(entry: Entry): void {
    const items = this.#items;
    items.push(entry);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent]!.at <= entry.at) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = entry;
  }

  pop(): Entry | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || !last) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const child = right < items.length && items[right]!.at < items[left]!.at ? right : left;
      if (items[child]!.at >= last.at) break;
      items[i] = items[child]!;
      i = child;
    }
    items[i] = last;
    return top;
  }
}

export class Scheduler {
  readonly #clock: Clock;
  readonly #onDue: (key: number) => void;
  readonly #heap = new MinHeap();
  #armed: { at: number; controller: AbortController } | undefined;
  #closed = false;

  /** `onDue(key)` runs once for each scheduled entry, at or after its time. */
  constructor(clock: Clock, onDue: (key: number) => void) {
    this.#clock = clock;
    this.#onDue = onDue;
  }

  /** How many wake-ups are pending. */
  get pending(): number {
    return this.#heap.size;
  }

  schedule(at: number, key: number): void {
    if (this.#closed) return;
    this.#heap.push({ at, key });
    this.#arm();
  }

  /** Cancels the armed sleep; nothing runs afterwards. */
  close(): void {
    this.#closed = true;
    this.#armed?.controller.abort();
    this.#armed = undefined;
  }

  /** Sleeps until the earliest entry, unless already sleeping until then or sooner. */
  #arm(): void {
    const next = this.#heap.peek();
    if (this.#closed || !next || (this.#armed && this.#armed.at <= next.at)) return;
    this.#armed?.controller.abort();
    const armed = { at: next.at, controller: new AbortController() };
    this.#armed = armed;
    const wake = () => {
      if (this.#armed !== armed) return;
      this.#armed = undefined;
      this.#runDue();
      this.#arm();
    };
    const wait = next.at - this.#clock.now();
    // Already due: a manual clock would not wake a zero sleep until it is next advanced.
    if (wait <= 0) return void setImmediate(wake);
    this.#clock.sleep(wait, armed.controller.signal).then(wake, () => undefined); // rejected: replaced or closed
  }

  #runDue(): void {
    const now = this.#clock.now();
    for (let next = this.#heap.peek(); next && next.at <= now; next = this.#heap.peek()) {
      this.#heap.pop();
      this.#onDue(next.key);
    }
  }
}
