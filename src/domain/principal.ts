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

/**
 * REQUIRE_TWO_ADMINS (四眼原则): two keys are one signer when one issued the other, directly or
 * through keys it issued, or both were issued through one key other than ADMIN_TOKEN's: an admin
 * could otherwise issue themself a second key and finalize their own run with it (found by a probe).
 * `computed` and `finalizing` are each a key's issuing chain (the key first); answers the key they
 * share, if any. ADMIN_TOKEN, which issues every first key, is in no chain.
 */
export function sharedIssuer (computed: readonly string[], finalizing: readonly string[]): string | undefined {
  return finalizing.find((id) => computed.includes(id))
}

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
