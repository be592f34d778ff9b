// The logger's contract (pino underneath): one JSON line per entry with level, time and msg;
// levels below the configured one are dropped; secrets never reach a line; errors keep their
// message and stack.
import { expect, test } from 'vitest';
import { createLogger } from '../../server/logger.ts';

function capture(level: Parameters<typeof createLogger>[0]) {
  const lines: string[] = [];
  const logger = createLogger(level, (line) => lines.push(line));
  return { logger, lines, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, any>) };
}

test('one JSON object per line: level, ISO time, msg and the fields', () => {
  const { logger, lines, parsed } = capture('info');
  logger.info('listening', { url: 'http://127.0.0.1:8787', devMode: true });
  expect(lines).toHaveLength(1);
  expect(lines[0]!.endsWith('\n')).toBe(true);
  const [line] = parsed();
  expect(line).toEqual({ level: 'info', time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/), msg: 'listening', url: 'http://127.0.0.1:8787', devMode: true });
});

test('levels below the configured one are dropped; silent drops all', () => {
  const warn = capture('warn');
  warn.logger.debug('a');
  warn.logger.info('b');
  warn.logger.warn('c');
  warn.logger.error('d');
  expect(warn.parsed().map((l) => [l.level, l.msg])).toEqual([
    ['warn', 'c'],
    ['error', 'd'],
  ]);
  const silent = capture('silent');
  silent.logger.error('nothing');
  expect(silent.lines).toEqual([]);
});

test('authorization headers and ?token= values are redacted', () => {
  const { logger, lines } = capture('debug');
  const secret = 'eyJhbGciOiJIUzI1NiJ9.payload.signature';
  logger.info('request', {
    path: `/v1/trees/t/events?token=${secret}`,
    url: `ws://host/v1/trees/t/events?x=1&token=${secret}&y=2`,
    authorization: `Bearer ${secret}`,
    headers: { authorization: `Bearer ${secret}`, referer: `http://app/?token=${secret}` },
  });
  const text = lines.join('');
  expect(text).not.toContain(secret);
  const line = JSON.parse(text);
  expect(line.path).toBe('/v1/trees/t/events?token=[Redacted]');
  expect(line.url).toBe('ws://host/v1/trees/t/events?x=1&token=[Redacted]&y=2');
  expect(line.authorization).toBe('[Redacted]');
  expect(line.headers).toEqual({ authorization: '[Redacted]', referer: 'http://app/?token=[Redacted]' });
});

test('an error is logged with its type, message and stack', () => {
  const { logger, parsed } = capture('info');
  logger.error('request failed', { err: new TypeError('no such thing'), requestId: 'r1' });
  const [line] = parsed();
  expect(line!.err).toMatchObject({ type: 'TypeError', message: 'no such thing', stack: expect.stringContaining('TypeError: no such thing') });
  expect(line!.requestId).toBe('r1');
});
