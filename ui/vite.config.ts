/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

// Output goes to ui/dist, which tauri.conf.json uses as frontendDist.
export default defineConfig({
  plugins: [preact({ devtoolsInProd: false, prerender: { enabled: false } })],
  base: './',
  clearScreen: false,
  server: { port: 1420, strictPort: true },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2021',
    // The CSP forbids inline scripts; the preload polyfill would be one.
    modulePreload: { polyfill: false },
    // Never inline assets as data: URLs into JS/CSS; emit files (fonts none, images local).
    assetsInlineLimit: 0,
    cssCodeSplit: false,
    sourcemap: false,
  },
  test: {
    environment: 'jsdom',
    include: ['test/**/*.test.{ts,tsx}'],
    restoreMocks: true,
    setupFiles: ['test/setup.ts'],
  },
});
