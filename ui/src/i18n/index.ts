// t(key, params): the current language's string with {placeholders} filled in.
import { en, type Key } from './en';
import { de } from './de';

export type { Key };
export type Lang = 'en' | 'de';
export const LANGS: Record<Lang, Record<Key, string>> = { en, de };

const STORAGE_KEY = 'parley.lang';

/** The OS language decides unless the person chose one (remembered). */
export function systemLang(language: string | undefined = globalThis.navigator?.language): Lang {
  return language?.toLowerCase().startsWith('de') ? 'de' : 'en';
}

export function storedLang(): Lang | null {
  try {
    const v = localStorage.getItem(STORAGE_KEY);
    return v === 'en' || v === 'de' ? v : null;
  } catch {
    return null;
  }
}

/** Remember a choice, or forget it (null: follow the OS). */
export function storeLang(lang: Lang | null): void {
  try {
    if (lang) localStorage.setItem(STORAGE_KEY, lang);
    else localStorage.removeItem(STORAGE_KEY);
  } catch {
    /* storage unavailable: the choice lasts this session */
  }
}

let current: Lang = storedLang() ?? systemLang();

export function getLang(): Lang {
  return current;
}

export function setLang(lang: Lang): void {
  current = lang;
  if (typeof document !== 'undefined') document.documentElement.lang = lang;
}

export function format(template: string, params?: Record<string, string | number>): string {
  if (!params) return template;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole,
  );
}

export function t(key: Key, params?: Record<string, string | number>): string {
  return format(LANGS[current][key] ?? en[key], params);
}

export function hasKey(key: string): key is Key {
  return Object.prototype.hasOwnProperty.call(en, key);
}
