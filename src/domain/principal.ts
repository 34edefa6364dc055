/*
 * Who is calling, in the contract's words (api-contract.md, Roles and scope): the municipal
 * finance bureau (admin, 市财政局) sees everything; a district finance bureau (区财政局) what
 * concerns its district; a zone's management committee (功能区管委) what concerns its zone.
 */

export type Role = 'admin' | 'district' | 'zone'
export const ROLES: readonly Role[] = ['admin', 'district', 'zone']

/** The key a request (or a command) acts with. `keyId` is 'bootstrap' for ADMIN_TOKEN. */
export type Principal =
  | { role: 'admin', keyId: string }
  | { role: 'district', keyId: string, districtCode: string }
  | { role: 'zone', keyId: string, zoneCode: string }

/** What a caller may see: everything, what concerns one district, or what concerns one zone. */
export type Scope =
  | { kind: 'all' }
  | { kind: 'district', districtCode: string }
  | { kind: 'zone', zoneCode: string }

export const ALL: Scope = { kind: 'all' }

export function scopeOf (principal: Principal): Scope {
  switch (principal.role) {
    case 'admin': return ALL
    case 'district': return { kind: 'district', districtCode: principal.districtCode }
    case 'zone': return { kind: 'zone', zoneCode: principal.zoneCode }
  }
}

/** The district a district key is bound to (its writes stay inside it), if any. */
export function onlyDistrictOf (principal: Principal): string | undefined {
  return principal.role === 'district' ? principal.districtCode : undefined
}
