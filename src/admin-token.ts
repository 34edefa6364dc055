import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

export interface AdminTokenSource {
  token: string
  /** 'environment', 'file' (kept from an earlier start) or 'generated' (new, to be logged once). */
  origin: 'environment' | 'file' | 'generated'
  file: string
}

/**
 * The bootstrap admin token: ADMIN_TOKEN when set; else the one kept in DATA_DIR from an earlier
 * start; else a new random one (256 bits), written there with owner-only permissions.
 */
export async function resolveAdminToken (dataDir: string, fromEnvironment: string | undefined): Promise<AdminTokenSource> {
  const file = join(dataDir, 'admin-token')
  if (fromEnvironment !== undefined) return { token: fromEnvironment, origin: 'environment', file }
  try {
    const kept = (await readFile(file, 'utf8')).trim()
    if (kept.length >= 16) return { token: kept, origin: 'file', file }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  await mkdir(dataDir, { recursive: true })
  const token = randomBytes(32).toString('base64url')
  await writeFile(file, `${token}\n`, { mode: 0o600, flag: 'w' })
  return { token, origin: 'generated', file }
}
