import fc from 'fast-check'
import type { Test } from 'tap'

/*
 * Property tests (calculation-rules.md §7; the debt history of api-contract.md, Legacy debts):
 * one assertion per property, which fails with fast-check's report (seed and counterexample).
 */

export interface Runs { numRuns: number, seed: number }

/** Asserts that a property holds on runs.numRuns generated inputs (fixed seed). */
export function holds<Ts extends [unknown, ...unknown[]]> (t: Test, property: fc.IProperty<Ts>, runs: Runs, inputs = 'random inputs'): void {
  t.doesNotThrow(() => fc.assert(property, runs), `held on ${runs.numRuns} ${inputs} (seed ${runs.seed})`)
}

/** The same for a property that awaits (requests through the API). */
export async function holdsAsync<Ts extends [unknown, ...unknown[]]> (t: Test, property: fc.IAsyncProperty<Ts>, runs: Runs, inputs = 'random inputs'): Promise<void> {
  await t.resolves(fc.assert(property, runs), `held on ${runs.numRuns} ${inputs} (seed ${runs.seed})`)
}
