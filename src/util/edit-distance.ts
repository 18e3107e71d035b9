/** Levenshtein distance, for "did you mean" suggestions (model names, state_dict keys). */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length];
}

/**
 * Longest name compared for suggestions. The distance costs the product of the two lengths, and the names come
 * from files and command lines: a 2M-character key against every model key would take minutes. Real keys and
 * model names are under 100 characters; longer ones get no suggestion.
 */
export const MAX_SUGGESTION_CHARS = 200;

/**
 * The `count` candidates closest to `query` by edit distance, nearest first (ties keep the candidates' order).
 * Empty when `query` is longer than {@link MAX_SUGGESTION_CHARS}; longer candidates are skipped.
 */
export function closestMatches(query: string, candidates: Iterable<string>, count: number): string[] {
  if (query.length > MAX_SUGGESTION_CHARS || count < 1) return [];
  const scored: Array<{ candidate: string; distance: number }> = [];
  for (const candidate of candidates) {
    if (candidate.length > MAX_SUGGESTION_CHARS) continue;
    scored.push({ candidate, distance: editDistance(query, candidate) });
  }
  return scored
    .sort((a, b) => a.distance - b.distance)
    .slice(0, count)
    .map((s) => s.candidate);
}
