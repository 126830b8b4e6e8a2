import { EventEmitter } from 'node:events';

/** An engine event, in Docker's vocabulary (Type container|image|network|volume, Action create|start|die|…). */
export interface EngineEvent {
  type: 'container' | 'image' | 'network' | 'volume' | 'daemon';
  action: string;
  id: string;
  attributes: Record<string, string>;
  /** Nanoseconds since the epoch. */
  timeNano: bigint;
}

/** Fan-out of engine events, with a bounded backlog so `events --since` can look back. */
export class EventBus {
  readonly #emitter = new EventEmitter();
  readonly #backlog: EngineEvent[] = [];
  readonly #max: number;

  constructor(options: { backlog?: number } = {}) {
    this.#max = options.backlog ?? 1024;
    this.#emitter.setMaxListeners(0);
  }

  publish(type: EngineEvent['type'], action: string, id: string, attributes: Record<string, string> = {}): void {
    const ev: EngineEvent = { type, action, id, attributes, timeNano: BigInt(Date.now()) * 1_000_000n };
    this.#backlog.push(ev);
    if (this.#backlog.length > this.#max) this.#backlog.shift();
    this.#emitter.emit('event', ev);
  }

  /** Events at or after `sinceNano` still in the backlog. */
  history(sinceNano: bigint): EngineEvent[] {
    return this.#backlog.filter((e) => e.timeNano >= sinceNano);
  }

  subscribe(listener: (ev: EngineEvent) => void): () => void {
    this.#emitter.on('event', listener);
    return () => this.#emitter.off('event', listener);
  }
}
