import Type from 'typebox'
import { ROLES } from '../../domain/principal.js'
import { DateString, DistrictCode, IdempotencyHeaders, Name, PageOf, PageQuery, problemResponses, RecordId, StringEnum, Timestamp, ZoneCode } from './common.js'

/* API keys and the audit log (api-contract.md, Roles and scope). Admins only. */

export const RoleSchema = StringEnum([...ROLES], '角色 admin (市财政局), district (区财政局, one district) or zone (功能区管委, one zone)')

const ApiKeyProps = {
  id: Type.String({ maxLength: 40, description: '密钥编号 the key\'s id (not the token)' }),
  role: RoleSchema,
  districtCode: Type.Union([DistrictCode('所属属地政府 the district of a district key'), Type.Null()], { description: '所属属地政府 the district of a district key, else null' }),
  zoneCode: Type.Union([ZoneCode('所属功能区 the zone of a zone key'), Type.Null()], { description: '所属功能区 the zone of a zone key, else null' }),
  label: Type.String({ maxLength: 200, description: '标签 what the key is for' }),
  createdAt: Timestamp('创建时间 when it was issued'),
  createdBy: Type.String({ maxLength: 40, description: '创建者 the key id that issued it' }),
  revokedAt: Type.Union([Timestamp('吊销时间 when it was revoked'), Type.Null()], { description: '吊销时间 when it was revoked, null while valid' }),
}
export const ApiKey = Type.Object(ApiKeyProps, { additionalProperties: false, description: 'API 密钥 an API key (never its token)' , examples: [{ id: 'key_0123456789abcdef', role: 'district', districtCode: '370214', zoneCode: null, label: '城阳区财政局', createdAt: '2026-01-01T00:00:00.000Z', createdBy: 'bootstrap', revokedAt: null }] })
export const IssuedApiKey = Type.Object({
  ...ApiKeyProps,
  token: Type.Optional(Type.String({ maxLength: 100, description: '令牌 the bearer token: shown only in the first answer, stored only as a hash; absent from a replay' })),
  tokenWithheld: Type.Optional(Type.Boolean({
    description: '令牌不再显示 true in a replay of the first answer (Idempotency-Key, Idempotent-Replayed: true): the token was shown once and is not kept, ' +
      'so the replay answers the key without it; a token that was lost is replaced by revoking the key and issuing another',
  })),
}, { additionalProperties: false, description: '新密钥 the issued key with its token (first answer), or without it (tokenWithheld: a replay)', examples: [{ id: 'key_0123456789abcdef', role: 'district', districtCode: '370214', zoneCode: null, label: '城阳区财政局', createdAt: '2026-01-01T00:00:00.000Z', createdBy: 'bootstrap', revokedAt: null, token: 'rss_…' }] })

/** A new key as it is answered the first time: with its token. */
export const presentIssuedKey = <K extends { token: string }>(key: K) => key

/** A new key as a replay answers it: the token, shown once, is never stored, so the replay says it is withheld. */
export function presentReplayedKey<K extends { token: string }> ({ token: _token, ...key }: K) {
  return { ...key, tokenWithheld: true }
}

export const NewApiKey = Type.Object({
  role: RoleSchema,
  districtCode: Type.Optional(DistrictCode('所属属地政府 required for a district key')),
  zoneCode: Type.Optional(ZoneCode('所属功能区 required for a zone key')),
  label: Name(200, '标签 what the key is for, e.g. 城阳区财政局结算岗'),
}, { additionalProperties: false, description: '新增密钥 a new API key', examples: [{ role: 'district', districtCode: '370214', label: '城阳区财政局 settlement desk' }] })

export const AuditEvent = Type.Object({
  id: RecordId('编号 event id'),
  occurredAt: Timestamp('时间 when it happened'),
  keyId: Type.String({ maxLength: 40, description: '密钥 the key that wrote' }),
  role: Type.String({ maxLength: 20, description: '角色 its role' }),
  action: Type.String({ maxLength: 50, description: '操作 what was done' }),
  entityType: Type.String({ maxLength: 50, description: '对象类型 what kind of record' }),
  entityId: Type.String({ maxLength: 200, description: '对象 which record' }),
  requestId: Type.String({ maxLength: 100, description: '请求编号 the request id, as in the server log' }),
  details: Type.Unknown({ description: '详情 what was written' }),
}, { additionalProperties: false, description: '审计事件 an audit event' , examples: [{ id: 1, occurredAt: '2026-01-01T00:00:00.000Z', keyId: 'bootstrap', role: 'admin', action: 'create', entityType: 'zone', entityId: 'QD-HT', requestId: '6f1c…', details: { code: 'QD-HT' } }] })

export const createApiKeySchema = {
  operationId: 'createApiKey', summary: '签发密钥 issue an API key (admin)',
  description: 'The token is random (256 bits), shown only in this response and stored only as its SHA-256 hash. ' +
    'A retry with the same Idempotency-Key replays the answer without the token (`tokenWithheld: true`): it is stored nowhere, the idempotency record included.',
  headers: IdempotencyHeaders,
  body: NewApiKey,
  response: { 201: IssuedApiKey, ...problemResponses(400, 401, 403, 409, 422) },
}

export const listApiKeysSchema = {
  operationId: 'listApiKeys', summary: '密钥列表 list API keys (admin)',
  querystring: Type.Object(PageQuery, { additionalProperties: false }),
  response: { 200: PageOf(ApiKey, '密钥 keys by id'), ...problemResponses(400, 401, 403) },
}

export const revokeApiKeySchema = {
  operationId: 'revokeApiKey', summary: '吊销密钥 revoke an API key at once (admin)',
  // The example is the demo's key of 城阳区财政局 (src/demo.ts DEMO_DISTRICT_KEY_ID), revoked already: run as-is, it changes nothing.
  params: Type.Object({ id: Type.String({ maxLength: 40, description: '密钥编号 the key id', examples: ['key_00000000000000d1'] }) }), headers: IdempotencyHeaders,
  response: { 200: ApiKey, ...problemResponses(401, 403, 404) },
}

export const listAuditEventsSchema = {
  operationId: 'listAuditEvents', summary: '审计日志 the audit log, newest first (admin)',
  querystring: Type.Object({
    ...PageQuery,
    entityType: Type.Optional(Type.String({ minLength: 1, maxLength: 50, description: '对象类型 e.g. agreement, zone, revenue_import' })),
    entityId: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: '对象 the record\'s id or code' })),
    keyId: Type.Optional(Type.String({ minLength: 1, maxLength: 40, description: '密钥 the key that made the change (`bootstrap` for ADMIN_TOKEN)', examples: ['bootstrap'] })),
    action: Type.Optional(Type.String({ minLength: 1, maxLength: 50, description: '操作 e.g. create, finalize, review, revoke' })),
    from: Type.Optional({ ...DateString('起 from this day, Beijing time (inclusive)'), examples: ['2026-01-01'] }),
    to: Type.Optional({ ...DateString('止 to this day, Beijing time (inclusive)'), examples: ['2026-12-31'] }),
  }, { additionalProperties: false }),
  response: { 200: PageOf(AuditEvent, '审计事件 events, newest first'), ...problemResponses(400, 401, 403) },
}
