/**
 * Text that says something (a name, a reference, a document number, a reason): at least one
 * character that is neither white space nor invisible (a control or format character, such as a
 * zero-width space U+200B). The JSON schemas take its source as their pattern, CSV lines this test.
 */
export const SAYS_SOMETHING = /[^\s\p{Cc}\p{Cf}]/u

export const saysSomething = (text: string): boolean => SAYS_SOMETHING.test(text)
