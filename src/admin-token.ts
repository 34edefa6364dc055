import { randomBytes } from 'node:crypto'
import { mkdir, open, readFile, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { ADMIN_TOKEN_PATTERN } from './config.js'
import { OperatorError } from './db/errors.js'

export interface AdminTokenSource {
  token: string
  /** 'environment', 'file' (kept from an earlier start) or 'generated' (new, to be logged once). */
  origin: 'environment' | 'file' | 'generated'
  file: string
}

/**
 * The bootstrap admin token: ADMIN_TOKEN when set; else the one kept in DATA_DIR from an earlier
 * start; else a new random one (256 bits), written there with owner-only permissions. A file that
 * holds something other than a token (one an operator wrote, too short) stops the start: replaced
 * without a word, the token the operator meant would stop working and no one would be told. An
 * empty file is as none (a write cut short), and a new token is generated.
 */
export async function resolveAdminToken (dataDir: string, fromEnvironment: string | undefined): Promise<AdminTokenSource> {
  const file = join(dataDir, 'admin-token')
  if (fromEnvironment !== undefined) return { token: fromEnvironment, origin: 'environment', file }
  try {
    const kept = (await readFile(file, 'utf8')).trim()
    if (ADMIN_TOKEN_PATTERN.test(kept)) return { token: kept, origin: 'file', file }
    if (kept !== '') {
      throw new OperatorError(`${file} holds no usable admin token (${kept.length} characters): a token is 16 to 512 printable characters without spaces. Write one there, set ADMIN_TOKEN, or remove the file to have a new one generated`)
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  await mkdir(dataDir, { recursive: true })
  const token = randomBytes(32).toString('base64url')
  // Whole or not at all, and on disk before it is named: a start cut short (or the power) leaves no
  // half-written or empty token behind, for the next start to replace without a word.
  const partial = `${file}.${process.pid}.partial`
  const handle = await open(partial, 'w', 0o600)
  try {
    await handle.writeFile(`${token}\n`)
    await handle.sync()
  } finally {
    await handle.close()
  }
  await rename(partial, file)
  return { token, origin: 'generated', file }
}
