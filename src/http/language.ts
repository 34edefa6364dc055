import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Language } from '../domain/explanation.js'

/** A weight (RFC 9110 §12.4.2): 0 to 1 with at most three decimals; anything else is no weight. */
const WEIGHT = /^q=(0(\.\d{0,3})?|1(\.0{0,3})?)$/

/** The language a range names: en and en-…, zh and zh-…, or every language (*); "eng" is none of them. */
function rangeOf (tag: string): Language | '*' | undefined {
  if (tag === '*') return '*'
  if (/^en(-|$)/.test(tag)) return 'en'
  if (/^zh(-|$)/.test(tag)) return 'zh'
  return undefined
}

/**
 * The explanation language from Accept-Language: English when the caller weighs it above Chinese,
 * or accepts it and refuses Chinese (zh;q=0); Chinese otherwise, the default, also when the header
 * names neither. A range with a malformed weight (q=2, q=x) is left out, as RFC 9110 leaves it.
 */
export function languageOf (acceptLanguage: string | undefined): Language {
  if (acceptLanguage === undefined) return 'zh'
  const weights = new Map<Language | '*', number>()
  for (const part of acceptLanguage.split(',').slice(0, 20)) {
    const [tag = '', ...params] = part.split(';').map((p) => p.trim().toLowerCase())
    const weight = params.find((p) => p.startsWith('q'))?.replace(/\s/g, '')
    if (weight !== undefined && !WEIGHT.test(weight)) continue
    const range = rangeOf(tag)
    // q-values are weights (0–1, three decimals), not money: a number is the right type here.
    const q = weight === undefined ? 1 : Number(weight.slice(2))
    if (range !== undefined) weights.set(range, Math.max(q, weights.get(range) ?? 0))
  }
  const wildcard = weights.get('*')
  const en = weights.get('en') ?? wildcard
  const zh = weights.get('zh') ?? wildcard
  if (en === undefined) return zh === 0 ? 'en' : 'zh'
  return en > 0 && (zh === undefined || en > zh) ? 'en' : 'zh'
}

/**
 * The language an answer's explanations are written in, as languageOf reads the request, said in
 * the answer's Content-Language, with Vary: Accept-Language so that a cache keeps one per language.
 */
export function explanationLanguage (request: FastifyRequest, reply: FastifyReply): Language {
  const language = languageOf(request.headers['accept-language'])
  // Nothing else varies these answers: CORS allows one fixed origin or any, never echoes the caller's.
  reply.header('content-language', language === 'en' ? 'en' : 'zh-CN').header('vary', 'Accept-Language')
  return language
}
