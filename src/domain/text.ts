/**
 * Text that says something (a name, a reference, a document number, a reason): at least one
 * character that is neither white space nor invisible: a control character (Unicode Cc) or a
 * format character of the Basic Multilingual Plane (Cf, such as the zero-width space U+200B).
 * Written with \u escapes and no Unicode property classes, so that the JSON schemas can publish
 * its source as their pattern and every client's regular expressions read it alike (Python's re,
 * JavaScript without the u flag); the service's validator reads it so too.
 */
// Control characters are what the class leaves out, on purpose.
// eslint-disable-next-line no-control-regex
export const SAYS_SOMETHING = /[^\s\u0000-\u001f\u007f-\u009f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]/

export const saysSomething = (text: string): boolean => SAYS_SOMETHING.test(text)
