import t from 'tap'
import { BLANK_IN_NAMES, NAME_PATTERN, NOT_IN_NAMES } from '../../src/http/schemas/common.js'
import { SAYS_SOMETHING } from '../../src/domain/text.js'

/*
 * The pattern of names printed on statements (src/http/schemas/common.ts NAME_PATTERN): one line that
 * says something, without control characters or bidirectional formatting. It is matched in one pass
 * because what may come before the first character that says something (BLANK_IN_NAMES) is exactly
 * what neither says something nor is refused: a class that overlapped the next one made the match
 * take time in the square of the length (found by review: a label of 160,000 characters held the
 * service 56 s).
 */

t.test('BLANK_IN_NAMES is every character of the Basic Multilingual Plane that neither says something nor is refused in a name, and no other', async (t) => {
  const blank = new RegExp(`^[${BLANK_IN_NAMES}]$`, 'u')
  const refused = new RegExp(`^[${NOT_IN_NAMES}]$`, 'u')
  const says = new RegExp(`^${SAYS_SOMETHING.source}$`, 'u')
  const wrong: string[] = []
  for (let code = 0; code <= 0xffff; code++) {
    if (code >= 0xd800 && code <= 0xdfff) continue
    const character = String.fromCharCode(code)
    if (blank.test(character) !== (!says.test(character) && !refused.test(character))) wrong.push(code.toString(16).padStart(4, '0'))
  }
  t.same(wrong, [], 'no character is misplaced')
})

t.test('NAME_PATTERN takes a name that says something on one line, and refuses the rest', async (t) => {
  const name = new RegExp(NAME_PATTERN, 'u')
  // A line or paragraph separator written as it is would break the test's own output.
  const shown = (text: string) => JSON.stringify(text).replace(/[\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`)
  for (const taken of ['城阳区财政局', '\u3000城阳区', '城阳区　财政局', 'ＡＢＣ区', '𠀀𠀁区', '🏢区', 'Größe', '城\u200d阳', 'a\u00adb', ' a ']) t.ok(name.test(taken), shown(taken))
  for (const refused of ['', ' ', '\u3000', '\u200b', 'a\nb', '\ta', 'a\u2028b', 'a\u202eb', 'a\u2066b', 'a\u200fb', 'a\u061cb', 'a\u0007']) t.notOk(name.test(refused), shown(refused))
  // Long inputs either way are matched, whatever the answer: the one pass (this file would time out otherwise).
  for (const long of [`${'城'.repeat(500_000)}\u202e`, `${' '.repeat(500_000)}\u202e`, `${'\u3000'.repeat(250_000)}城${'城'.repeat(250_000)}`]) name.test(long)
  t.ok(name.test(`${'\u3000'.repeat(250_000)}城${'城'.repeat(250_000)}`))
})
