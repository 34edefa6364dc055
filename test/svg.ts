import { XMLParser, XMLValidator } from 'fast-xml-parser'

/*
 * An SVG answer read as XML (fast-xml-parser): whether it is well-formed, and its elements as a
 * flat list (name, attributes, text) for tests to look for axis names, legends and data points.
 */

export interface SvgElement {
  name: string
  attributes: Record<string, string>
  text: string
}

export interface ParsedSvg {
  elements: SvgElement[]
  /** Every text of every <text>, <title> and <desc>, in document order. */
  texts: string[]
  /** The drawn data points (ECharts marks them ecmeta_ssr_type="chart"), by series index: the data indexes drawn. */
  points: Map<number, number[]>
  /** The processing instructions before the root (<?xml-stylesheet …?>). */
  prolog: string
}

export function parseSvg (svg: string): ParsedSvg {
  const valid = XMLValidator.validate(svg)
  if (valid !== true) throw new Error(`the SVG is not well-formed XML: ${valid.err.msg} (line ${valid.err.line})`)
  const tree = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', preserveOrder: true, trimValues: false, ignorePiTags: false, parseTagValue: false, parseAttributeValue: false }).parse(svg) as unknown[]
  const elements: SvgElement[] = []
  const walk = (nodes: unknown[]) => {
    for (const node of nodes) {
      const entry = node as Record<string, unknown>
      const name = Object.keys(entry).find((k) => k !== ':@')
      if (name === undefined || name === '#text' || name.startsWith('?')) continue
      const children = entry[name]
      const attributes = (entry[':@'] ?? {}) as Record<string, string>
      const text = Array.isArray(children) ? children.map((c) => String((c as Record<string, unknown>)['#text'] ?? '')).join('') : ''
      elements.push({ name, attributes, text })
      if (Array.isArray(children)) walk(children)
    }
  }
  walk(tree)
  const points = new Map<number, number[]>()
  for (const e of elements) {
    if (e.attributes.ecmeta_ssr_type !== 'chart' || e.attributes.ecmeta_data_index === undefined || e.attributes.ecmeta_series_index === undefined) continue
    const series = Number(e.attributes.ecmeta_series_index)
    points.set(series, [...(points.get(series) ?? []), Number(e.attributes.ecmeta_data_index)])
  }
  return {
    elements,
    texts: elements.filter((e) => e.name === 'text' || e.name === 'title' || e.name === 'desc' || e.name === 'tspan').map((e) => e.text),
    points,
    prolog: svg.slice(0, svg.indexOf('<svg')),
  }
}
