import type { CalculationRequestJson } from '../src/domain/calculation-request.js'

/** The request example of api-contract.md, POST /v1/calculations. */
export const contractRequest = {
  fiscalYear: 2021,
  minimumRate: '0.60',
  groups: [
    {
      name: 'taxes', basis: 'increment', base: '1000000.00', actual: '1250000.00',
      rates: [{ upToGrowth: '0.10', rate: '0.60' }, { rate: '0.80' }], shortfall: 'carry_forward', carriedShortfall: '0.00',
    },
    { name: 'fees', basis: 'total', actual: '80000.00', rates: [{ rate: '0.60' }] },
  ],
  advancesPaid: '100000.00',
} satisfies CalculationRequestJson
