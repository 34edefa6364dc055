import type { ColumnType, Generated, Selectable } from 'kysely'

/*
 * The database as Kysely sees it: one interface per table, named as in sql/.
 * numeric columns arrive as strings (pg and PGlite alike) and stay strings until they
 * become Decimals in the domain: never a JavaScript number.
 */

/** numeric(17,2) or numeric(7,6): read as a string, written as a string. */
export type NumericString = ColumnType<string, string, string>

export interface RevenueCategoriesTable {
  code: string
  parent_code: string | null
  name_zh: string
  name_en: string
  kind: 'tax' | 'fee' | 'non_tax'
  local_share: NumericString | null
  note: string | null
  origin: Generated<'national' | 'local'>
  created_at: Generated<Date>
}

export interface SchemaMigrationsTable {
  name: string
  checksum: string
  applied_at: Generated<Date>
}

export interface Database {
  revenue_categories: RevenueCategoriesTable
  schema_migrations: SchemaMigrationsTable
}

export type RevenueCategoryRow = Selectable<RevenueCategoriesTable>
