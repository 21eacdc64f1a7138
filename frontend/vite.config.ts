import { defineConfig } from 'vitest/config';

// Preact through Vite's own JSX transform (oxc): no Babel preset needed.
export default defineConfig({
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { target: 'es2022', sourcemap: false, assetsInlineLimit: 0 },
  server: { proxy: { '/api': process.env.ERRAND_URL ?? 'http://127.0.0.1:8080' } },
  preview: { proxy: { '/api': process.env.ERRAND_URL ?? 'http://127.0.0.1:8080' } },
  test: { environment: 'node', include: ['src/**/*.test.ts'] },
});
