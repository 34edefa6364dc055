import t from 'tap'
import { expectProblem, rowCount, testApp, testDatabase } from '../helpers.js'
import { buildWorld, created, get, injector, post } from '../world.js'

/*
 * What the service says must mean one thing (api-contract.md, Revenue; Roles and scope; Settlement
 * runs): a month given twice in one batch is refused naming both, never half-dropped; a code
 * outside the key's scope reads exactly as one that does not exist; one format for the floor.
 * The world: 城阳区 370214 hosts QD-HT (agreement ht), 市北区 370203 hosts QD-BL (agreement bl).
 */

const database = await testDatabase(t)
const app = await testApp(t, database)
const world = await buildWorld(t, app)
const injectAs = injector(app, world)
const header = 'zoneCode,districtCode,category,year,month,amount'
const csv = (text: string, query = '', who: 'admin' | 'district214' = 'admin') =>
  injectAs(who, { method: 'POST', url: `/v1/revenues/import${query}`, headers: { 'content-type': 'text/csv' }, payload: text })
const revisions = () => rowCount(database, 'revenue_revisions')

t.test('api-contract.md, Revenue: two records of one month in one batch are refused (422) naming both, and nothing is recorded', async (t) => {
  const before = await revisions()
  const problem = expectProblem(t, await post(app, '/v1/revenues', { records: [
    { zoneCode: 'QD-HT', category: '10101', year: 2021, month: 1, amount: '100.00' },
    { zoneCode: 'QD-HT', category: '10101', year: 2021, month: 2, amount: '50.00' },
    { zoneCode: 'QD-HT', districtCode: '370214', category: '10101', year: 2021, month: 1, amount: '120.00' },
    { zoneCode: 'QD-BL', category: '10304', year: 2021, month: 3, amount: '1.00' },
    { zoneCode: 'QD-BL', category: '10304', year: 2021, month: 3, amount: '2.00' },
    { zoneCode: 'QD-BL', category: '10304', year: 2021, month: 3, amount: '3.00' },
  ] }), 422)
  t.match(problem.type, /invalid-records$/)
  t.same(problem.errors, [
    { pointer: '/records/0', message: 'is repeated by record 2 (the same zone, district, category, year and month: one amount per month, in one record)' },
    { pointer: '/records/2', message: 'repeats record 0 (the same zone, district, category, year and month: one amount per month, in one record)' },
    { pointer: '/records/3', message: 'is repeated by records 4, 5 (the same zone, district, category, year and month: one amount per month, in one record)' },
    { pointer: '/records/4', message: 'repeats record 3 (the same zone, district, category, year and month: one amount per month, in one record)' },
    { pointer: '/records/5', message: 'repeats record 3 (the same zone, district, category, year and month: one amount per month, in one record)' },
  ], 'the district given or defaulted to the host is the same month')
  t.equal(await revisions(), before, 'nothing was recorded')
  const one = await post(app, '/v1/revenues', { records: [{ zoneCode: 'QD-HT', category: '10101', year: 2021, month: 1, amount: '120.00' }, { zoneCode: 'QD-HT', category: '10101', year: 2021, month: 2, amount: '50.00' }] })
  t.match(one.json(), { records: 2, created: 2 }, 'one record per month: recorded')
})

t.test('api-contract.md, Revenue: a CSV file giving a month twice lists both lines; with ?partial=true neither is loaded, the rest is', async (t) => {
  const file = `${header}\nQD-HT,,10104,2022,1,10.00\nQD-HT,,10104,2022,2,20.00\nQD-HT,,10104,2022,3,30.00\nQD-HT,370214,10104,2022,1,11.00\nBAD,,10104,2022,4,1.00\n`
  const before = await revisions()
  const problem = expectProblem(t, await csv(file), 422)
  t.match(problem.detail, /^3 of 5 lines are bad; nothing was loaded\. Correct them, or send \?partial=true to load the 2 good lines\.$/)
  t.same(problem.errors?.map((e) => e.pointer), ['/line/2/line', '/line/5/line', '/line/6/zoneCode'], 'both lines of the month, in line order with the other bad line')
  t.match(problem.errors?.[0]?.message, /line 2: is repeated by line 5 \(the same zone, district, category, year and month/)
  t.match(problem.errors?.[1]?.message, /line 5: repeats line 2 /)
  t.equal(await revisions(), before, 'nothing was loaded')

  const partial = await csv(file, '?partial=true')
  t.equal(partial.statusCode, 200)
  t.match(partial.json(), { rows: 5, loaded: 2, rejected: 3, created: 2 })
  const months = ((await get(app, '/v1/revenues?zoneCode=QD-HT&year=2022&category=10104')).json() as { items: Array<{ month: number, amount: string }> }).items
  t.same(months.map((m) => [m.month, m.amount]), [[2, '20.00'], [3, '30.00']], 'January, given twice, was not loaded either way')
})

t.test('api-contract.md, Revenue: a month given twice is repeated whatever the amount of its other line: with ?partial=true, a line whose twin has a bad amount is not loaded alone', async (t) => {
  const file = `${header}\nQD-HT,,10104,2024,3,1.00\nQD-HT,,10104,2024,3,1250.000\nQD-HT,,10104,2024,4,4.00\nQD-HT,,10104,2024,5,x\n`
  const before = await revisions()
  const problem = expectProblem(t, await csv(file), 422)
  t.same(problem.errors?.map((e) => e.pointer), ['/line/2/line', '/line/3/amount', '/line/5/amount'], 'the month\'s good line too, in line order with the bad amounts')
  t.match(problem.errors?.[0]?.message, /line 2: is repeated by line 3 \(the same zone, district, category, year and month/)
  t.match(problem.detail, /^3 of 4 lines are bad; nothing was loaded/)
  t.equal(await revisions(), before, 'nothing was loaded')

  // Before, March was loaded at 1.00 from line 2 alone, and only line 3's amount was reported (found by a probe of the API).
  const partial = await csv(file, '?partial=true')
  t.equal(partial.statusCode, 200)
  t.match(partial.json(), { rows: 4, loaded: 1, rejected: 3, created: 1 })
  const months = ((await get(app, '/v1/revenues?zoneCode=QD-HT&year=2024&category=10104')).json() as { items: Array<{ month: number, amount: string }> }).items
  t.same(months.map((m) => [m.month, m.amount]), [[4, '4.00']], 'March, given twice, was not loaded; May, whose only line is bad, neither')
})

t.test('api-contract.md, Revenue: a month repeated 300 times names the first 20 other lines and counts the rest, within the documented 500 characters', async (t) => {
  const file = `${header}\n${Array.from({ length: 300 }, (_, i) => `QD-HT,,10104,2023,5,${i + 1}.00`).join('\n')}\nQD-HT,,10104,2023,6,6.00\n`
  const partial = await csv(file, '?partial=true')
  t.equal(partial.statusCode, 200)
  const answer = partial.json() as { loaded: number, rejected: number, errors: Array<{ line: number, message: string }> }
  t.match(answer, { rows: 301, loaded: 1, rejected: 300 })
  t.equal(answer.errors.length, 300)
  t.equal(answer.errors[0]?.line, 2)
  t.match(answer.errors[0]?.message, /^is repeated by lines 3, 4, 5, .*, 22 and 279 more \(the same zone/)
  t.same(answer.errors.filter((e) => e.message.length > 500), [], 'no message is longer than ImportError.message allows (500)')
  t.equal(answer.errors[299]?.message, 'repeats line 2 (the same zone, district, category, year and month: one amount per month, in one record)')
})

t.test('api-contract.md, Revenue: a month given on 1,500 lines counts all 1,479 others beyond the 20 it names, though an answer lists the first 1,000 lines of a month', async (t) => {
  const file = `${header}\n${Array.from({ length: 1500 }, (_, i) => `QD-HT,,10104,2023,7,${i + 1}.00`).join('\n')}\n`
  const partial = await csv(file, '?partial=true')
  t.equal(partial.statusCode, 200)
  const answer = partial.json() as { loaded: number, rejected: number, errors: Array<{ line: number, message: string }> }
  t.match(answer, { rows: 1500, loaded: 0, rejected: 1500 })
  t.match(answer.errors[0], { line: 2, message: /^is repeated by lines 3, 4, .*, 22 and 1479 more \(the same zone/ }, 'before, "and 979 more": the others were counted from the lines read back')
  t.equal(answer.errors.length, 1000)
})

t.test('api-contract.md, Revenue ("lists every bad row"): a 422 with more bad lines than a problem lists (1,000) says so, and ?partial=true lists them all', async (t) => {
  const file = `${header}\n${Array.from({ length: 1500 }, (_, i) => `QD-HT,,10104,2024,13,${i + 1}.00`).join('\n')}\n`
  const problem = expectProblem(t, await csv(file), 422)
  t.equal(problem.detail, '1500 of 1500 lines are bad; nothing was loaded. Correct them, or send ?partial=true to load the 0 good lines. ' +
    'The first 1000 of the 1500 problems found in them are listed here; the answer to ?partial=true lists them all.')
  t.equal(problem.errors?.length, 1000)
  t.equal(problem.errors?.at(-1)?.pointer, '/line/1001/month')
  const partial = (await csv(file, '?partial=true')).json() as { errors: unknown[] }
  t.equal(partial.errors.length, 1500)
  // Beyond what an import's answer lists (10,000), the count is still every problem found.
  const more = `${header}\n${Array.from({ length: 10_500 }, (_, i) => `QD-HT,,10104,2024,13,${i + 1}.00`).join('\n')}\n`
  t.match(expectProblem(t, await csv(more), 422).detail, /The first 1000 of the 10500 problems found in them are listed here; the answer to \?partial=true lists the first 10000\.$/)
})

t.test('api-contract.md, Revenue, Legacy debts: an import\'s answer that lists the first 10,000 problems says how many it leaves out (unlistedErrors), and says nothing of it when it lists them all', async (t) => {
  const debts = await rowCount(database, 'debts')
  const before = await revisions()
  const bad = (lines: number) => `${header}\n${Array.from({ length: lines }, (_, i) => `QD-HT,,10104,2024,13,${i + 1}.00`).join('\n')}\n`
  const cut = await csv(bad(10_500), '?partial=true')
  t.equal(cut.statusCode, 200)
  const answer = cut.json() as { rejected: number, errors: Array<{ line: number }>, unlistedErrors?: number }
  t.match(answer, { rows: 10_500, loaded: 0, rejected: 10_500, unlistedErrors: 500 })
  t.equal(answer.errors.length, 10_000)
  t.equal(answer.errors.at(-1)?.line, 10_001, 'the first 10,000 lines after the header are the ones listed')
  // Two problems a line (a month of 13 and an amount that is not one): the problems are counted, not the lines.
  const twice = (await csv(`${header}\n${Array.from({ length: 6000 }, () => 'QD-HT,,10104,2024,13,x').join('\n')}\n`, '?partial=true')).json() as { rejected: number, errors: unknown[], unlistedErrors?: number }
  t.match(twice, { rejected: 6000, unlistedErrors: 2000 })
  t.equal(twice.errors.length, 10_000)
  const whole = (await csv(bad(1500), '?partial=true')).json() as Record<string, unknown>
  t.equal((whole['errors'] as unknown[]).length, 1500)
  t.notOk('unlistedErrors' in whole, 'every problem listed: nothing said of unlisted ones')
  // A debt file the same way: 10,001 lines of one field each.
  const debtHeader = 'zoneCode,reference,creditor,kind,principal,outstanding,interestRate,incurredOn,maturityDate,registeredOn,notes'
  const debtFile = `${debtHeader}\n${Array.from({ length: 10_001 }, () => 'QD-HT').join('\n')}\n`
  const debtAnswer = (await injectAs('admin', { method: 'POST', url: '/v1/debts/import?partial=true', headers: { 'content-type': 'text/csv' }, payload: debtFile })).json() as { errors: unknown[] }
  t.match(debtAnswer, { rows: 10_001, registered: 0, rejected: 10_001, unlistedErrors: 1 })
  t.equal(debtAnswer.errors.length, 10_000)
  t.equal(await rowCount(database, 'debts'), debts, 'no debt registered')
  t.equal(await revisions(), before, 'no revenue recorded')
})

/** A problem as the caller reads it, with the code it named replaced and the request id left out. */
const reading = (body: string, code: string) => {
  const { requestId: _requestId, ...problem } = JSON.parse(body) as Record<string, unknown>
  return JSON.stringify(problem).replaceAll(code, '<code>')
}

t.test('api-contract.md, Roles and scope: a district or zone outside the key\'s scope reads exactly as one that does not exist', async (t) => {
  const before = await revisions()
  const record = (fields: Record<string, unknown>) => ({ records: [{ category: '10101', year: 2021, month: 6, amount: '1.00', ...fields }] })
  const asDistrict = (body: unknown) => injectAs('district214', { method: 'POST', url: '/v1/revenues', payload: body as object })

  const otherDistrict = await asDistrict(record({ zoneCode: 'QD-HT', districtCode: '370203' }))
  const noDistrict = await asDistrict(record({ zoneCode: 'QD-HT', districtCode: '370299' }))
  t.equal(otherDistrict.statusCode, 422)
  t.equal(reading(otherDistrict.body, '370203'), reading(noDistrict.body, '370299'), 'another district\'s code and a code that does not exist: the same answer')
  t.match(JSON.parse(noDistrict.body), { errors: [{ pointer: '/records/0/districtCode', message: 'no district 370299 in this key\'s scope' }] })

  const otherZone = await asDistrict(record({ zoneCode: 'QD-BL' }))
  const noZone = await asDistrict(record({ zoneCode: 'QD-XX' }))
  t.equal(reading(otherZone.body, 'QD-BL'), reading(noZone.body, 'QD-XX'), 'a zone the key may not see and one that does not exist: the same answer (no host district named)')
  t.match(JSON.parse(noZone.body), { errors: [{ pointer: '/records/0/zoneCode', message: 'no zone QD-XX in this key\'s scope' }] })

  const fileOther = await csv(`${header}\nQD-HT,370203,10101,2021,6,1.00\n`, '', 'district214')
  const fileNone = await csv(`${header}\nQD-HT,370299,10101,2021,6,1.00\n`, '', 'district214')
  t.equal(reading(fileOther.body, '370203'), reading(fileNone.body, '370299'), 'in a CSV file too')
  t.equal(await revisions(), before, 'nothing was recorded')

  const byAdmin = expectProblem(t, await post(app, '/v1/revenues', record({ zoneCode: 'QD-XX', districtCode: '370299' })), 422)
  t.same(byAdmin.errors?.map((e) => e.message), ['no zone QD-XX is registered', 'no district 370299 is registered'], 'an admin sees the whole registry: "not registered"')
  const own = await injectAs('district214', { method: 'POST', url: '/v1/revenues', payload: record({ zoneCode: 'QD-HT' }) })
  t.equal(own.statusCode, 200, 'the key\'s own zone and district: recorded')
})

t.test('api-contract.md, Settlement runs: the run list prints minimumRate as the run does ("0.60")', async (t) => {
  const run = await created(t, app, '/v1/settlement-runs', { fiscalYear: 2020 }) as { id: number, minimumRate: string }
  t.equal(run.minimumRate, '0.60')
  const list = (await get(app, '/v1/settlement-runs')).json() as { items: Array<{ id: number, minimumRate: string }> }
  t.equal(list.items.find((r) => r.id === run.id)?.minimumRate, '0.60', 'the list, as the run')
  const listed = (await get(app, '/v1/settlement-runs?fiscalYear=2020')).json() as { items: Array<{ minimumRate: string }> }
  t.ok(listed.items.every((r) => r.minimumRate === '0.60'), 'every run of the list')
  t.equal(((await get(app, `/v1/settlement-runs/${run.id}`)).json() as { minimumRate: string }).minimumRate, '0.60')
})

t.test('api-contract.md, Revenue ("lists every bad row with its line number"): a line with a quote inside an unquoted field is a bad line; ?partial=true loads the others', async (t) => {
  const file = `${header}\nQD-HT,,10105,2022,1,10.00\nQD-HT,,10105,2022,2,2"0.00\nQD-HT,,10105,2022,3,30.00\n`
  const before = await revisions()
  const problem = expectProblem(t, await csv(file), 422)
  t.match(problem.detail, /^1 of 3 lines is bad; nothing was loaded\. Correct it, or send \?partial=true to load the 2 good lines\./)
  t.same(problem.errors?.map((e) => e.pointer), ['/line/3/amount'])
  t.equal(await revisions(), before, 'nothing was loaded')
  const partial = await csv(file, '?partial=true')
  t.equal(partial.statusCode, 200)
  t.match(partial.json(), { rows: 3, loaded: 2, rejected: 1, created: 2, errors: [{ line: 3, field: 'amount' }] })
  const months = ((await get(app, '/v1/revenues?zoneCode=QD-HT&year=2022&category=10105')).json() as { items: Array<{ month: number, amount: string }> }).items
  t.same(months.map((m) => [m.month, m.amount]), [[1, '10.00'], [3, '30.00']])
})

t.test('api-contract.md, Revenue: a file in CR LF with a line appended in LF loads every line, and a bad line after it is named by its own row', async (t) => {
  const file = `${header}\r\nQD-HT,,10106,2022,5,1.00\r\nQD-HT,,10106,2022,6,2.00\nQD-HT,,10106,2022,7,3.00\r\nQD-HT,,10106,2022,8,x\r\n`
  const partial = await csv(file, '?partial=true')
  t.equal(partial.statusCode, 200)
  t.match(partial.json(), { rows: 4, loaded: 3, rejected: 1, created: 3, errors: [{ line: 5, field: 'amount' }] })
  const months = ((await get(app, '/v1/revenues?zoneCode=QD-HT&year=2022&category=10106')).json() as { items: Array<{ month: number, amount: string }> }).items
  t.same(months.map((m) => [m.month, m.amount]), [[5, '1.00'], [6, '2.00'], [7, '3.00']])
})
