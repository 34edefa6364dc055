import Type from 'typebox'
import { CategoryCode, DistrictCode, PageOf, PageQuery, problemResponses, Rate, StringEnum, Timestamp, ZoneCode, IdempotencyHeaders, Name, Words } from './common.js'

/* Revenue categories, districts and zones (api-contract.md, Registry). */

export const CategoryKind = StringEnum(['tax', 'fee', 'non_tax'], '收入类型 tax (税收), fee (行政事业性收费) or non_tax (其他非税)')

export const RevenueCategory = Type.Object({
  code: CategoryCode(),
  parentCode: Type.Union([CategoryCode('上级科目 the parent code'), Type.Null()], { description: '上级科目 the parent code, null for a class' }),
  nameZh: Type.String({ maxLength: 200, description: '中文名称 Chinese name' }),
  nameEn: Type.String({ maxLength: 200, description: '英文名称 English name' }),
  kind: CategoryKind,
  localShare: Type.Union([Type.String({ maxLength: 10 }), Type.Null()], { description: '地方级分享比例 the local level\'s default share, null for a class' }),
  note: Type.Union([Type.String({ maxLength: 500 }), Type.Null()], { description: '备注 note' }),
  origin: StringEnum(['national', 'local'], '来源 national: the seeded classification; local: added by an admin'),
}, { additionalProperties: false, description: '收入科目 a revenue category' , examples: [{ code: '10101', parentCode: '101', nameZh: '增值税', nameEn: 'Value-added tax', kind: 'tax', localShare: '0.500000', note: 'local 50% since 2016-05-01 (国发〔2016〕26号)', origin: 'national' }] })

export const NewRevenueCategory = Type.Object({
  code: CategoryCode('科目编码 the new local code'),
  parentCode: Type.Optional(CategoryCode('上级科目 an existing parent code')),
  nameZh: Name(200, '中文名称 Chinese name'),
  nameEn: Name(200, '英文名称 English name'),
  kind: CategoryKind,
  localShare: Type.Optional(Rate('地方级分享比例 the local level\'s default share')),
  note: Type.Optional(Words(500, '备注 note')),
}, { additionalProperties: false, description: '新增科目 a local revenue category', examples: [{ code: '1030499', parentCode: '10304', nameZh: '功能区其他收费', nameEn: 'Other zone fees', kind: 'fee', localShare: '1.00' }] })

export const District = Type.Object({
  code: DistrictCode(),
  name: Type.String({ maxLength: 100, description: '名称 name, e.g. 城阳区' }),
  createdAt: Timestamp('创建时间 when it was registered'),
}, { additionalProperties: false, description: '属地政府 a district', examples: [{ code: '370214', name: '城阳区', createdAt: '2026-01-01T00:00:00.000Z' }] })

export const NewDistrict = Type.Object({
  code: DistrictCode(),
  name: Name(100, '名称 name, e.g. 城阳区'),
}, { additionalProperties: false, description: '新增属地政府 a new district', examples: [{ code: '370299', name: '示例区' }] })

export const Zone = Type.Object({
  code: ZoneCode(),
  name: Type.String({ maxLength: 100, description: '名称 name, e.g. 青岛高新区' }),
  hostDistrictCode: DistrictCode('属地政府 the host district\'s code'),
  createdAt: Timestamp('创建时间 when it was registered'),
}, { additionalProperties: false, description: '功能区 a functional zone', examples: [{ code: 'QD-HT', name: '青岛高新区', hostDistrictCode: '370214', createdAt: '2026-01-01T00:00:00.000Z' }] })

export const NewZone = Type.Object({
  code: ZoneCode(),
  name: Name(100, '名称 name'),
  hostDistrictCode: DistrictCode('属地政府 the host district\'s code (registered first)'),
}, { additionalProperties: false, description: '新增功能区 a new zone', examples: [{ code: 'QD-NEW', name: '示例功能区', hostDistrictCode: '370214' }] })

export const listRevenueCategoriesSchema = {
  operationId: 'listRevenueCategories', summary: '收入科目列表 list the revenue classification',
  querystring: Type.Object({ ...PageQuery, kind: Type.Optional(CategoryKind) }, { additionalProperties: false }),
  response: { 200: PageOf(RevenueCategory, '收入科目 categories by code'), ...problemResponses(400, 401) },
}

export const createRevenueCategorySchema = {
  operationId: 'createRevenueCategory', summary: '新增科目 add a local revenue category (admin)',
  headers: IdempotencyHeaders, body: NewRevenueCategory,
  response: { 201: RevenueCategory, ...problemResponses(400, 401, 403, 409, 422) },
}

export const listDistrictsSchema = {
  operationId: 'listDistricts', summary: '属地政府列表 list districts in the caller\'s scope',
  querystring: Type.Object(PageQuery, { additionalProperties: false }),
  response: { 200: PageOf(District, '属地政府 districts by code'), ...problemResponses(400, 401) },
}

export const getDistrictSchema = {
  operationId: 'getDistrict', summary: '属地政府 one district',
  params: Type.Object({ code: DistrictCode() }),
  response: { 200: District, ...problemResponses(400, 401, 404) },
}

export const createDistrictSchema = {
  operationId: 'createDistrict', summary: '新增属地政府 register a district (admin)',
  headers: IdempotencyHeaders, body: NewDistrict,
  response: { 201: District, ...problemResponses(400, 401, 403, 409, 422) },
}

export const listZonesSchema = {
  operationId: 'listZones', summary: '功能区列表 list zones in the caller\'s scope',
  querystring: Type.Object(PageQuery, { additionalProperties: false }),
  response: { 200: PageOf(Zone, '功能区 zones by code'), ...problemResponses(400, 401) },
}

export const getZoneSchema = {
  operationId: 'getZone', summary: '功能区 one zone',
  params: Type.Object({ code: ZoneCode() }),
  response: { 200: Zone, ...problemResponses(400, 401, 404) },
}

export const createZoneSchema = {
  operationId: 'createZone', summary: '新增功能区 register a zone (admin)',
  headers: IdempotencyHeaders, body: NewZone,
  response: { 201: Zone, ...problemResponses(400, 401, 403, 409, 422) },
}
