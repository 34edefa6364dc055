import t from 'tap'
import { seedSettlementData } from '../../bench/seed.js'
import { languageOf } from '../../src/http/language.js'
import { ADMIN_TOKEN, expectProblem, testApp, testDatabase } from '../helpers.js'

/*
 * README, Languages (api-contract.md: "explanation is human-readable, Chinese by default, English
 * with Accept-Language: en"): which language a header asks for, and what the answer says it is in.
 */

const database = await testDatabase(t)
await database.withScriptSession((run) => seedSettlementData(run, 3))
const app = await testApp(t, database)
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }
const run = (await app.inject({ method: 'POST', url: '/v1/settlement-runs', headers: auth, payload: { fiscalYear: 2021 } })).json() as { id: number }

t.test('Accept-Language: English when weighed above Chinese or accepted while Chinese is refused; Chinese otherwise', async (t) => {
  const cases: Array<[string | undefined, 'zh' | 'en', string]> = [
    [undefined, 'zh', 'no header: the default'],
    ['en', 'en', 'English alone'],
    ['en-GB,en;q=0.9,zh;q=0.5', 'en', 'English first'],
    ['zh-CN,en;q=0.8', 'zh', 'Chinese first'],
    ['en;q=0.5, zh;q=0.6', 'zh', 'weights, not order, decide'],
    ['zh;q=0.4 , en ; q=0.5', 'en', 'spaces around the weight'],
    ['EN-us', 'en', 'tags are case-insensitive'],
    ['*', 'zh', 'any language: the default'],
    ['de', 'zh', 'neither: the default'],
    ['de,en;q=0.1', 'en', 'English accepted, Chinese not named'],
    ['zh;q=0', 'en', 'Chinese refused (before: Chinese)'],
    ['zh;q=0, *', 'en', 'Chinese refused, any other accepted'],
    ['zh;q=0, en;q=0', 'zh', 'both refused: the default'],
    ['en;q=0', 'zh', 'English refused'],
    ['eng', 'zh', '"eng" is not English\'s range (before: English)'],
    ['zha, en;q=0.5', 'en', '"zha" is not Chinese\'s range (before: Chinese)'],
    ['en;q=2, zh;q=0.5', 'zh', 'a weight above 1 is malformed: that range is left out (before: English)'],
    ['en;q=x', 'zh', 'a weight that is no number is left out'],
    ['en;q=0.1234', 'zh', 'four decimals are more than a weight has'],
    ['en;q=1.000', 'en', 'three zero decimals after 1'],
  ]
  for (const [header, expected, why] of cases) t.equal(languageOf(header), expected, `${JSON.stringify(header)}: ${why}`)
})

t.test('a run\'s lines say the language of their explanations, as calculations do, and vary by it (before: neither header)', async (t) => {
  for (const [asked, contentLanguage, explanation] of [['en', 'en', /^(Base|Increment|Whole)/], [undefined, 'zh-CN', /^(基数|增量|全额)/]] as const) {
    const response = await app.inject({ method: 'GET', url: `/v1/settlement-runs/${run.id}/lines`, headers: { ...auth, ...(asked === undefined ? {} : { 'accept-language': asked }) } })
    t.equal(response.statusCode, 200)
    t.equal(response.headers['content-language'], contentLanguage)
    t.equal(response.headers.vary, 'Accept-Language', 'a cache keeps one answer per language')
    const lines = response.json().items as Array<{ groups: Array<{ explanation: string[] }> }>
    t.equal(lines.length, 3)
    t.ok(lines.every((l) => l.groups.every((g) => explanation.test(g.explanation[0] ?? ''))), `every explanation in ${contentLanguage}`)
  }
  const calculation = await app.inject({
    method: 'POST', url: '/v1/calculations', headers: { ...auth, 'accept-language': 'en' },
    payload: { fiscalYear: 2021, groups: [{ name: 'taxes', basis: 'increment', base: '1000.00', actual: '1050.00', rates: [{ rate: '0.60' }] }] },
  })
  t.equal(calculation.headers['content-language'], 'en', 'as a calculation does')
  t.equal(calculation.headers.vary, 'Accept-Language')
})

t.test('a problem is in English whatever the caller asked, and says so (before: no Content-Language)', async (t) => {
  const missing = await app.inject({ method: 'GET', url: '/v1/settlement-runs/999999/lines', headers: { ...auth, 'accept-language': 'zh-CN' } })
  expectProblem(t, missing, 404)
  t.equal(missing.headers['content-language'], 'en')
  const invalid = await app.inject({ method: 'POST', url: '/v1/calculations', headers: { ...auth, 'accept-language': 'zh' }, payload: { fiscalYear: 2021, groups: [] } })
  expectProblem(t, invalid, 400)
  t.equal(invalid.headers['content-language'], 'en')
})
