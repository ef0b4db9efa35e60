// The order a closing server stops its parts in, as code: each part names its stage, and the stages run in this order.
import type { FastifyInstance } from 'fastify';

/**
 * The stages of a shutdown, in the order they run.
 * - `timers` runs as closing starts (Fastify's preClose), while requests may still be in flight: periodic work
 *   (the clean-up) stops first, so none can start while the database closes.
 * - The rest run once in-flight requests have finished (onClose), each after the one before has completed:
 *   `background` (work requests started after answering, then the refusal tallies they left) before `outbox`
 *   (whose worker may be sending that work's mail) before `mailer` (its connection) before `limits` (their
 *   counters and Redis) before `database` (which all of the above may still write to) before `logs` (so every
 *   line about the others is written).
 */
export const SHUTDOWN_STAGES = [
  'timers',
  'background',
  'outbox',
  'mailer',
  'limits',
  'database',
  'logs',
] as const;

/** One stage of the shutdown. */
export type ShutdownStage = (typeof SHUTDOWN_STAGES)[number];

/** A part's own way of stopping. */
export type StopStep = () => Promise<void> | void;

/**
 * Collects each part's stop step under its stage and runs them in SHUTDOWN_STAGES order. The ordering is this
 * list, not the order in which parts happened to be created (Fastify runs onClose hooks newest first, which made
 * the order an accident of wiring).
 */
export class Shutdown {
  private readonly steps = new Map<ShutdownStage, StopStep[]>();

  /** Adds a stop step to a stage; steps of one stage run one after another in the order added. */
  add(stage: ShutdownStage, step: StopStep): void {
    const steps = this.steps.get(stage) ?? [];
    steps.push(step);
    this.steps.set(stage, steps);
  }

  /** Hooks the stages into the server's close: `timers` at preClose, the rest at onClose. */
  register(server: FastifyInstance): void {
    server.addHook('preClose', () => this.run(['timers']));
    server.addHook('onClose', () => this.run(SHUTDOWN_STAGES.filter((stage) => stage !== 'timers')));
  }

  /** Runs the given stages' steps. Every step runs even if one before it failed; the first failure is rethrown. */
  private async run(stages: readonly ShutdownStage[]): Promise<void> {
    const failures: unknown[] = [];
    for (const stage of stages) {
      for (const step of this.steps.get(stage) ?? []) {
        try {
          await step();
        } catch (error) {
          failures.push(error);
        }
      }
    }
    if (failures.length > 0) throw failures[0];
  }
}
