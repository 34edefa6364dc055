import { type RawBuilder, sql } from 'kysely'
import type { Scope } from '../domain/principal.js'

export { ALL, type Scope } from '../domain/principal.js'

/*
 * What a caller may see (api-contract.md, Roles and scope) as SQL: every repository read that
 * can return scoped rows takes a Scope and filters with these, so an out-of-scope row is simply
 * not found (404) and lists are filtered.
 */

/**
 * A WHERE condition for rows that belong to a zone and a district (agreements, revenue):
 * a district sees the rows of its district, a zone the rows of its zone.
 */
export function scopeFilter (scope: Scope, columns: { zone: string, district: string }): RawBuilder<boolean> {
  switch (scope.kind) {
    case 'all': return sql<boolean>`true`
    case 'district': return sql<boolean>`${sql.ref(columns.district)} = ${scope.districtCode}`
    case 'zone': return sql<boolean>`${sql.ref(columns.zone)} = ${scope.zoneCode}`
  }
}

/** Districts in scope: its own for a district; for a zone, its host and every district it has an agreement with. */
export function districtFilter (scope: Scope, codeColumn: string): RawBuilder<boolean> {
  const code = sql.ref(codeColumn)
  switch (scope.kind) {
    case 'all': return sql<boolean>`true`
    case 'district': return sql<boolean>`${code} = ${scope.districtCode}`
    case 'zone': return sql<boolean>`(${code} IN (SELECT host_district_code FROM zones WHERE code = ${scope.zoneCode})
      OR ${code} IN (SELECT district_code FROM agreements WHERE zone_code = ${scope.zoneCode}))`
  }
}

/** Zones in scope: its own for a zone; for a district, those it hosts and those it has agreements with. */
export function zoneFilter (scope: Scope, codeColumn: string, hostColumn: string): RawBuilder<boolean> {
  const code = sql.ref(codeColumn)
  switch (scope.kind) {
    case 'all': return sql<boolean>`true`
    case 'district': return sql<boolean>`(${sql.ref(hostColumn)} = ${scope.districtCode}
      OR ${code} IN (SELECT zone_code FROM agreements WHERE district_code = ${scope.districtCode}))`
    case 'zone': return sql<boolean>`${code} = ${scope.zoneCode}`
  }
}
