import { existsSync, statSync } from 'node:fs'
import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PGlite } from '@electric-sql/pglite'

/*
 * A new embedded database starts from a template: the data directory of a fresh PGlite, which
 * `npm run build` writes next to the compiled code (dist/pglite-template.tar.gz, about 5 MB).
 * Loading it peaks at about 400 MB and takes about 2 s, where PGlite's own initdb peaks at about
 * 900 MB and takes about 4 s (a server's first start: about 500 MB instead of 920 MB). Without the
 * file (the suite under tsx before any build) a new database is initialized as PGlite does it.
 * An existing data directory is opened as it is; the template never touches it.
 */

/** Where `npm run build` writes the template: dist/, beside dist/src/. */
export const PGLITE_TEMPLATE = fileURLToPath(new URL('../../pglite-template.tar.gz', import.meta.url))

/** The template for a new database: the built one (from dist/src, or dist/ seen from src/ under tsx), if any. */
export function builtTemplate (): string | undefined {
  const fromSource = fileURLToPath(new URL('../../dist/pglite-template.tar.gz', import.meta.url))
  return [PGLITE_TEMPLATE, fromSource].find((path) => existsSync(path))
}

/** Whether `dataDir` (undefined: in memory) holds no database yet. */
export const isNewDataDir = (dataDir: string | undefined): boolean => dataDir === undefined || !existsSync(join(dataDir, 'PG_VERSION'))

/** The template's contents, to load into a new database. */
export async function readTemplate (path: string): Promise<Blob> {
  return new Blob([await readFile(path)])
}

/** Whether the template at `target` was written by the PGlite installed now (written after it was installed). */
export function templateIsCurrent (target: string = PGLITE_TEMPLATE): boolean {
  if (!existsSync(target)) return false
  const installed = statSync(fileURLToPath(import.meta.resolve('@electric-sql/pglite'))).mtimeMs
  return statSync(target).mtimeMs > installed
}

/** Initializes a fresh PGlite and writes its data directory to `target` (whole, or not at all). */
export async function writePgliteTemplate (target: string = PGLITE_TEMPLATE): Promise<string> {
  const fresh = await PGlite.create()
  try {
    const dump = await fresh.dumpDataDir('gzip')
    const partial = `${target}.${process.pid}.partial`
    await writeFile(partial, Buffer.from(await dump.arrayBuffer()))
    await rename(partial, target)
    return target
  } finally {
    await fresh.close()
  }
}
