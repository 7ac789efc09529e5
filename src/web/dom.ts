/** Small helpers the page's scripts share */

/** The element with this id; a page without it is a broken page, said plainly */
export const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id)
  if (el == null) {
    throw new Error(`the page has no #${id}`)
  }
  return el as T
}

/** A long id shortened for display: its head and tail */
export function short (id: string): string {
  return id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-6)}` : id
}
