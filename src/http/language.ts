import type { Language } from '../domain/explanation.js'

/**
 * The explanation language from Accept-Language: English when the caller prefers it over
 * Chinese, Chinese otherwise (the default).
 */
export function languageOf (acceptLanguage: string | undefined): Language {
  if (acceptLanguage === undefined) return 'zh'
  let best: { lang: Language, q: number } | undefined
  for (const part of acceptLanguage.split(',').slice(0, 20)) {
    const [tag = '', ...params] = part.trim().toLowerCase().split(';')
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='))
    // q-values are weights (0–1, three decimals), not money: a number is the right type here.
    const q = qParam === undefined ? 1 : Number(qParam.slice(2))
    const lang: Language | undefined = tag.startsWith('en') ? 'en' : tag.startsWith('zh') ? 'zh' : undefined
    if (lang === undefined || !(q > 0)) continue
    if (best === undefined || q > best.q) best = { lang, q }
  }
  return best?.lang ?? 'zh'
}
