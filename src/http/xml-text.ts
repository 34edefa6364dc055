/**
 * Characters XML 1.0 does not allow (an xlsx sheet and an SVG chart are XML): C0 controls other
 * than tab, LF and CR, U+FFFE and U+FFFF, and surrogates without their pair. A name or a note may
 * hold them as stored (the CSV and the printable statement keep them); an XML document cannot,
 * and one that does opens nowhere.
 */
const NOT_XML = /[\p{Cc}\p{Cs}\uFFFE\uFFFF]/gu
/** Of the controls (Cc), XML holds tab, LF, CR, DEL and the C1 controls. */
const xmlHolds = (c: string) => c === '\t' || c === '\n' || c === '\r' || (c >= '\u007F' && c <= '\u009F')

/** The text with each character XML cannot hold shown as U+FFFD, so that the document opens and the reader sees something was there. */
export const xmlText = (given: string): string => given.replace(NOT_XML, (c) => xmlHolds(c) ? c : '\uFFFD')
