import type { ColumnType, Generated, Kysely, Selectable } from 'kysely'

/*
 * The database as Kysely sees it: one interface per table, named as in sql/.
 * numeric columns arrive as strings (pg and PGlite alike) and stay strings until they
 * become Decimals in the domain: never a JavaScript number.
 */

/** numeric(17,2), numeric(20,2) or numeric(7,6): read as a string, written as a string. */
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

export interface DistrictsTable {
  code: string
  name: string
  created_at: Generated<Date>
}

export interface ZonesTable {
  code: string
  name: string
  host_district_code: string
  created_at: Generated<Date>
}

export interface AgreementsTable {
  id: Generated<number>
  zone_code: string
  district_code: string
  document_no: string
  base_year: number
  effective_from: number
  effective_to: number | null
  created_at: Generated<Date>
}

export interface AgreementGroupsTable {
  agreement_id: number
  position: number
  name: string
  basis: 'increment' | 'total'
  base_amount: NumericString | null
  base_mode: 'fixed' | 'escalating' | 'prior_year' | null
  growth_rate: NumericString | null
  shortfall: 'none' | 'deduct' | 'carry_forward'
}

export interface AgreementGroupCategoriesTable {
  agreement_id: number
  group_position: number
  category_code: string
}

export interface AgreementBandsTable {
  agreement_id: number
  group_position: number
  position: number
  up_to_growth: NumericString | null
  rate: NumericString
}

export interface BaseAdjustmentsTable {
  id: Generated<number>
  agreement_id: number
  group_position: number
  from_year: number
  amount: NumericString
  reason: string
  document_no: string
  created_at: Generated<Date>
}

export interface RevenueRecordsTable {
  zone_code: string
  district_code: string
  category_code: string
  year: number
  month: number
  amount: NumericString
  revision: number
  updated_at: Generated<Date>
}

/** Σ of a zone's revenue in a district, category and year, kept by sql/010's triggers (src/db/revenue.ts groupActuals). */
export interface RevenueYearTotalsTable {
  zone_code: string
  district_code: string
  category_code: string
  year: number
  total: NumericString
  records: number
  /** bigint: pg and PGlite return it as a string. */
  revisions: string
}

export interface RevenueRevisionsTable {
  zone_code: string
  district_code: string
  category_code: string
  year: number
  month: number
  revision: number
  amount: NumericString
  recorded_at: Generated<Date>
  key_id: string
  request_id: string
}

export interface AdvancesTable {
  id: Generated<number>
  agreement_id: number
  fiscal_year: number
  paid_on: ColumnType<string, string, string>
  amount: NumericString
  document_no: string
  created_at: Generated<Date>
}

export interface ApiKeysTable {
  id: string
  role: 'admin' | 'district' | 'zone'
  district_code: string | null
  zone_code: string | null
  label: string
  token_hash: string
  created_at: Generated<Date>
  created_by: string
  revoked_at: Date | null
}

export interface IdempotencyKeysTable {
  key_id: string
  idempotency_key: string
  request_hash: string
  response_status: number
  response_body: string
  created_at: Generated<Date>
}

export interface AuditEventsTable {
  id: Generated<number>
  occurred_at: Generated<Date>
  key_id: string
  role: string
  action: string
  entity_type: string
  entity_id: string
  request_id: string
  details: string | null
}

export interface SettlementRunsTable {
  id: Generated<number>
  fiscal_year: number
  status: 'draft' | 'finalized'
  minimum_rate: NumericString
  created_at: Generated<Date>
  created_by: string
  finalized_at: Date | null
  finalized_by: string | null
  /** SHA-256 (hex) of the run's canonical content, stored when it is finalized (sql/006). */
  digest: string | null
  /** The canonical text the digest was taken over (sql/015): 'settlement-run/v2', or null for v1 (finalized before it). */
  digest_format: ColumnType<string | null, string | null | undefined, string | null>
  /** 强制定稿理由: why it was finalized although a line was disputed. */
  override_reason: string | null
}

export interface SettlementLinesTable {
  run_id: number
  agreement_id: number
  fiscal_year: number
  kind: 'annual' | 'supplementary'
  finalized: Generated<boolean>
  zone_code: string
  district_code: string
  revenue_total: NumericString
  zone_share: NumericString
  district_share: NumericString
  advances_paid: NumericString
  balance_due: NumericString
  previous_zone_share: NumericString | null
  adjustment: NumericString | null
  /** The run of the finalized line (same agreement and year) a supplementary line follows. */
  follows_run_id: number | null
  balance_adjustment: NumericString | null
  /** What the line was computed from: LineInputs as JSON ('' for lines from before the ledger). */
  inputs: Generated<string>
}

export interface SettlementGroupsTable {
  run_id: number
  agreement_id: number
  position: number
  name: string
  basis: 'increment' | 'total'
  base: NumericString | null
  actual: NumericString
  increment: NumericString | null
  carried_shortfall_in: NumericString | null
  shareable: NumericString | null
  zone_share: NumericString
  district_share: NumericString
  carried_shortfall_out: NumericString | null
  /** 核销: the shortfall the finalized line wrote off, recorded when it was finalized (sql/013); null when none, or finalized before 013 (see written_off_before_013). */
  written_off: ColumnType<string | null, never, string | null>
  /** 核销 on a line finalized before sql/013: what it printed when sql/016 was applied; outside the run's digest, which was taken without it. */
  written_off_before_013: ColumnType<string | null, never, never>
  bands: string
  result: string
  /** The group as a POST /v1/calculations request (GroupJson); null for groups settled before 008. */
  input: ColumnType<string | null, string | null | undefined, never>
}

/** 审核确认: a party's decision on a line of a draft run, kept as recorded (sql/006). */
export interface SettlementReviewsTable {
  id: Generated<number>
  run_id: number
  agreement_id: number
  party: 'district' | 'zone'
  decision: 'confirm' | 'dispute'
  note: string | null
  recorded_by: string
  recorded_by_role: 'admin' | 'district' | 'zone'
  recorded_by_label: string | null
  recorded_at: Generated<Date>
}

export interface DebtsTable {
  id: Generated<number>
  zone_code: string
  reference: string
  creditor: string
  kind: 'bank_loan' | 'bond' | 'project_payable' | 'ppp' | 'other'
  principal: NumericString
  outstanding_at_registration: NumericString
  interest_rate: NumericString | null
  incurred_on: ColumnType<string | null, string | null, string | null>
  maturity_date: ColumnType<string | null, string | null, string | null>
  registered_on: ColumnType<string, string, string>
  notes: string | null
  created_at: Generated<Date>
}

export interface DebtEventsTable {
  id: Generated<number>
  debt_id: number
  kind: 'transfer' | 'repayment' | 'reversal'
  occurred_on: ColumnType<string, string, string>
  district_code: string | null
  document_no: string | null
  principal: NumericString
  interest: NumericString
  reverses_event_id: number | null
  note: string | null
  key_id: string
  created_at: Generated<Date>
}

/** 分段期限: the bands of a group's rate schedule, by the period they start. */
export interface AgreementScheduleBandsTable {
  agreement_id: number
  group_position: number
  from_year: number
  position: number
  up_to_growth: NumericString | null
  rate: NumericString
}

/** 事权划转: a function moved between zone and district, with its funding. */
export interface ResponsibilityTransfersTable {
  id: Generated<number>
  agreement_id: number
  group_position: number
  function: string
  direction: 'to_district' | 'to_zone'
  from_year: number
  to_year: number | null
  document_no: string
  method: 'fixed' | 'headcount' | 'indexed'
  amount: NumericString | null
  headcount: number | null
  unit_cost: NumericString | null
  growth_rate: NumericString | null
  created_at: Generated<Date>
}

export interface Database {
  debts: DebtsTable
  debt_events: DebtEventsTable
  settlement_runs: SettlementRunsTable
  settlement_lines: SettlementLinesTable
  settlement_groups: SettlementGroupsTable
  settlement_reviews: SettlementReviewsTable
  revenue_categories: RevenueCategoriesTable
  schema_migrations: SchemaMigrationsTable
  districts: DistrictsTable
  zones: ZonesTable
  agreements: AgreementsTable
  agreement_groups: AgreementGroupsTable
  agreement_group_categories: AgreementGroupCategoriesTable
  agreement_bands: AgreementBandsTable
  base_adjustments: BaseAdjustmentsTable
  revenue_records: RevenueRecordsTable
  revenue_revisions: RevenueRevisionsTable
  revenue_year_totals: RevenueYearTotalsTable
  advances: AdvancesTable
  api_keys: ApiKeysTable
  idempotency_keys: IdempotencyKeysTable
  audit_events: AuditEventsTable
  agreement_schedule_bands: AgreementScheduleBandsTable
  responsibility_transfers: ResponsibilityTransfersTable
}

/** The database, or a transaction on it: every repository function takes one first. */
export type Db = Kysely<Database>

export type RevenueCategoryRow = Selectable<RevenueCategoriesTable>
export type DistrictRow = Selectable<DistrictsTable>
export type ZoneRow = Selectable<ZonesTable>
export type AgreementRow = Selectable<AgreementsTable>
export type ApiKeyRow = Selectable<ApiKeysTable>
export type AuditEventRow = Selectable<AuditEventsTable>
export type AdvanceRow = Selectable<AdvancesTable>
export type RevenueRecordRow = Selectable<RevenueRecordsTable>
export type RevenueRevisionRow = Selectable<RevenueRevisionsTable>
export type AgreementGroupRow = Selectable<AgreementGroupsTable>
export type AgreementBandRow = Selectable<AgreementBandsTable>
export type BaseAdjustmentRow = Selectable<BaseAdjustmentsTable>
export type SettlementRunRow = Selectable<SettlementRunsTable>
export type SettlementLineRow = Selectable<SettlementLinesTable>
export type SettlementGroupRow = Selectable<SettlementGroupsTable>
export type SettlementReviewRow = Selectable<SettlementReviewsTable>
export type DebtRow = Selectable<DebtsTable>
export type DebtEventRow = Selectable<DebtEventsTable>
export type ResponsibilityTransferRow = Selectable<ResponsibilityTransfersTable>
