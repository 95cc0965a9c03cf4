import { render } from 'preact';
import { App } from './app';
import { videoStats } from './video';
import { getLang, setLang } from './i18n';
import './styles.css';

setLang(getLang());

// Defence in depth: nothing in the window may navigate it away from the app. Chat links
// handle their own clicks (a confirm dialog); any other anchor click is stopped here, and
// dropping a dragged link or file onto the window does nothing.
document.addEventListener(
  'click',
  (e) => {
    const a = (e.target as Element | null)?.closest?.('a');
    if (a) e.preventDefault();
  },
  true,
);
document.addEventListener('auxclick', (e) => {
  if ((e.target as Element | null)?.closest?.('a')) e.preventDefault();
}, true);
window.addEventListener('dragover', (e) => e.preventDefault());
window.addEventListener('drop', (e) => e.preventDefault());

render(<App />, document.getElementById('app')!);

// For the benchmarks (cold start, paste → first frame, frames drawn): numbers only, no content.
Object.defineProperty(window, '__parley', {
  value: Object.freeze({ readyAt: Date.now(), video: videoStats }),
});
