// `stratus console`'s session (cli/console-session.ts) against a real websocket server: raw mode on a
// terminal and restored, the escape key detaches, a takeover ends with its reason and exit code 1,
// a pipe as stdin is sent as is and the session ends once the console is quiet.
import { PassThrough } from 'node:stream';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { escapeName, parseEscape, runConsoleSession } from '../../cli/console-session';
import { CONSOLE_CLOSE } from '../../kube/console-token';

let wss: WebSocketServer;
let url: string;
/** what the server received, and a hook to act on each connection */
let received: Buffer[] = [];
let onConnection: (ws: WebSocket) => void = () => undefined;

beforeAll(async () => {
  wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((r) => wss.once('listening', r));
  url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  wss.on('connection', (ws) => {
    ws.on('message', (d: Buffer) => {
      received.push(d);
      ws.send(Buffer.from(`echo:${d.toString()}`));
    });
    onConnection(ws);
  });
});
afterAll(() => new Promise((r) => wss.close(r)));
beforeEach(() => {
  received = [];
  onConnection = () => undefined;
});

function sink() {
  let text = '';
  return { write: (s: string) => { text += s; return true; }, get text() { return text; } };
}

async function connect(): Promise<WebSocket> {
  const ws = new WebSocket(url);
  await new Promise((r) => ws.once('open', r));
  return ws;
}

/** A terminal-like stdin: a stream with isTTY and setRawMode that records the modes it was put in. */
function terminal() {
  const s = new PassThrough() as PassThrough & { isTTY: boolean; setRawMode: (b: boolean) => void; modes: boolean[] };
  s.isTTY = true;
  s.modes = [];
  s.setRawMode = (b: boolean) => { s.modes.push(b); };
  return s;
}

test('escape keys: ^] by default, any control key, or none', () => {
  expect(parseEscape('^]')).toBe(0x1d);
  expect(parseEscape('^a')).toBe(0x01);
  expect(parseEscape('none')).toBeUndefined();
  expect(escapeName(0x1d)).toBe('^]');
  expect(() => parseEscape('x')).toThrow(/--escape must be/);
});

test('on a terminal: raw mode, keys go to the console, the escape key detaches (exit 0) and the terminal is restored', async () => {
  const stdin = terminal();
  const out = sink();
  const err = sink();
  const ws = await connect();
  const done = runConsoleSession(ws, { stdin, stdout: out, stderr: err }, { what: 'virtualmachine web', escape: 0x1d });
  stdin.write('ls\r');
  await new Promise((r) => setTimeout(r, 100));
  expect(out.text).toBe('echo:ls\r');
  stdin.write(Buffer.from([0x71, 0x1d, 0x72])); // q, ^], r: only q is sent
  expect(await done).toBe(0);
  expect(Buffer.concat(received).toString()).toBe('ls\rq');
  expect(stdin.modes).toEqual([true, false]);
  expect(err.text).toContain('Connected to virtualmachine web.');
  expect(err.text).toContain('Escape character is ^]');
  expect(err.text).toContain('Detached from virtualmachine web.');
});

test('a session taken over ends with the reason and exit code 1; the terminal is restored', async () => {
  onConnection = (ws) => setTimeout(() => ws.close(CONSOLE_CLOSE.takenOver, 'another console session took over'), 50);
  const stdin = terminal();
  const err = sink();
  const code = await runConsoleSession(await connect(), { stdin, stdout: sink(), stderr: err }, { what: 'virtualmachine web', escape: 0x1d });
  expect(code).toBe(1);
  expect(err.text).toContain('Console closed: another console session took over.');
  expect(stdin.modes).toEqual([true, false]);
});

test('stdin not a terminal: sent as is (no escape key), and the session ends once the console is quiet', async () => {
  const stdin = new PassThrough();
  const out = sink();
  const done = runConsoleSession(await connect(), { stdin, stdout: out, stderr: sink() }, { what: 'virtualmachine web', escape: 0x1d, quietMs: 200 });
  stdin.end(Buffer.from([0x61, 0x1d, 0x62, 0x0a]));
  expect(await done).toBe(0);
  expect(Buffer.concat(received)).toEqual(Buffer.from([0x61, 0x1d, 0x62, 0x0a]));
  expect(out.text).toBe(`echo:a\x1db\n`);
});
