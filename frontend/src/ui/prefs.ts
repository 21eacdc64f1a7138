// Preferences kept in this browser: theme and single-key shortcuts.
import { store } from './store';

export type Theme = 'light' | 'dark' | 'system';

function readTheme(): Theme {
  const t = localStorage.getItem('errand.theme');
  return t === 'light' || t === 'dark' ? t : 'system';
}

export const theme = store<Theme>(readTheme());
export const shortcutsOn = store<boolean>(localStorage.getItem('errand.shortcuts') !== 'off');

const media = matchMedia('(prefers-color-scheme: dark)');
function apply(): void {
  const t = theme.get();
  const dark = t === 'dark' || (t === 'system' && media.matches);
  document.documentElement.dataset.theme = dark ? 'dark' : 'light';
}
apply();
media.addEventListener('change', apply);
theme.subscribe((t) => {
  localStorage.setItem('errand.theme', t);
  apply();
});
shortcutsOn.subscribe((on) => localStorage.setItem('errand.shortcuts', on ? 'on' : 'off'));
