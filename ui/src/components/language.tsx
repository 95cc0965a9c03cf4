import { t, type Lang } from '../i18n';

export function LanguageSelect({ value, onChange }: { value: Lang | null; onChange: (l: Lang | null) => void }) {
  return (
    <label class="lang-select">
      <span>{t('lang.label')}</span>
      <select
        id="language-select"
        class="input"
        value={value ?? ''}
        onChange={(e) => {
          const v = (e.target as HTMLSelectElement).value;
          onChange(v === 'en' || v === 'de' ? v : null);
        }}
      >
        <option value="">{t('lang.system')}</option>
        <option value="en" lang="en">
          {t('lang.en')}
        </option>
        <option value="de" lang="de">
          {t('lang.de')}
        </option>
      </select>
    </label>
  );
}
