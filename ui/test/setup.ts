import { afterAll } from 'vitest';

// Preact runs effects after the next paint: a requestAnimationFrame raced by a 100 ms timer
// that calls cancelAnimationFrame. A timer still pending when a test file ends fires after
// jsdom is torn down, where cancelAnimationFrame no longer exists, and fails the whole run.
// Let every such timer fire while the page still exists.
afterAll(() => new Promise<void>((resolve) => setTimeout(resolve, 150)));
