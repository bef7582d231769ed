// Reading the credentials of a request from its Authorization header.

export type Credentials =
  | { type: 'none' }
  | { type: 'bearer'; token: string }
  | { type: 'basic'; username: string; password: string }
  | { type: 'malformed'; why: string };

const MAX_HEADER = 16 * 1024;

export function parseAuthorization(header: string | undefined): Credentials {
  if (header === undefined || header === '') return { type: 'none' };
  if (header.length > MAX_HEADER) return { type: 'malformed', why: 'the Authorization header is too long' };
  const sp = header.indexOf(' ');
  const scheme = (sp < 0 ? header : header.slice(0, sp)).toLowerCase();
  const value = sp < 0 ? '' : header.slice(sp + 1).trim();
  if (scheme === 'bearer') {
    if (!value || /\s/.test(value)) return { type: 'malformed', why: 'a bearer token is one word' };
    return { type: 'bearer', token: value };
  }
  if (scheme === 'basic') {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return { type: 'malformed', why: 'basic credentials are base64' };
    const text = Buffer.from(value, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    if (colon <= 0) return { type: 'malformed', why: 'basic credentials are user:password' };
    return { type: 'basic', username: text.slice(0, colon), password: text.slice(colon + 1) };
  }
  return { type: 'malformed', why: 'unsupported authorization scheme' };
}
