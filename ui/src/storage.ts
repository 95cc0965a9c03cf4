// Small remembered preferences (localStorage; silently absent if unavailable).
export function load(key: string): string | null {
  try {
    return localStorage.getItem(`parley.${key}`);
  } catch {
    return null;
  }
}

export function save(key: string, value: string): void {
  try {
    localStorage.setItem(`parley.${key}`, value);
  } catch {
    /* ignore */
  }
}
