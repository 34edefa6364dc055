/** One thing wrong with an input, located by a JSON pointer into it (RFC 6901). */
export interface InputIssue {
  pointer: string
  message: string
}

/**
 * `malformed`: the input's shape is wrong (a field missing or forbidden): HTTP 400.
 * `rule`: well-formed, but it breaks a rule of calculation-rules.md (the floor, band order): 422.
 */
export type IssueKind = 'malformed' | 'rule'

export class InputError extends Error {
  readonly kind: IssueKind
  readonly issues: readonly InputIssue[]

  constructor (kind: IssueKind, issues: readonly InputIssue[]) {
    super(issues.map((i) => `${i.pointer}: ${i.message}`).join('; '))
    this.name = 'InputError'
    this.kind = kind
    this.issues = issues
  }
}

/** Collects issues of both kinds; malformed input is reported before broken rules. */
export class IssueCollector {
  private readonly malformed: InputIssue[] = []
  private readonly rules: InputIssue[] = []

  malformedAt (pointer: string, message: string): void {
    this.malformed.push({ pointer, message })
  }

  ruleAt (pointer: string, message: string): void {
    this.rules.push({ pointer, message })
  }

  throwIfAny (): void {
    if (this.malformed.length > 0) throw new InputError('malformed', this.malformed)
    if (this.rules.length > 0) throw new InputError('rule', this.rules)
  }
}
