/**
 * @module test/setup
 * Runs before every test file. Protocol sessions report errors that reached
 * their catch-all through `reportUnexpected`; a test that triggers one fails,
 * because an unexpected error is a bug even when the client saw a tidy reply.
 */
import { afterEach, expect } from 'vitest';
import { takeUnexpected } from '../node/util/unexpected.js';

afterEach(() => {
  const seen = takeUnexpected();
  expect(seen.map((e) => e.stack ?? String(e)), 'errors reached a catch-all').toEqual([]);
});
