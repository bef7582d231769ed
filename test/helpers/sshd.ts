// A real SSH server for client tests (ssh2's server, spoken to by the system's OpenSSH): public-key
// login of one user, `exec` answered by a handler, and SFTP (what scp speaks) on a local folder.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Server, utils, type Connection, type SFTPWrapper } from 'ssh2';

export interface TestSshd {
  port: number;
  /** the server's host key, as a known_hosts line would hold it ("ssh-ed25519 AAAA...") */
  hostKey: string;
  /** what clients ran: user and command, in order */
  readonly execs: Array<{ user: string; command: string }>;
  close(): Promise<void>;
}

export interface TestSshdOptions {
  /** the one user allowed in */
  user: string;
  /** the OpenSSH public key (ssh-ed25519 AAAA... comment) allowed to log in */
  authorizedKey: string;
  /** answers an exec: output and exit code; default echoes "ran: COMMAND" with 0 */
  exec?: (command: string) => { stdout: string; code: number };
  /** SFTP paths are under this folder (/tmp/x is ROOT/tmp/x); none: no SFTP */
  root?: string;
  /** listen on this port (a port another server used: as a hypervisor reuses a forward); default any */
  port?: number;
}

export async function startTestSshd(o: TestSshdOptions): Promise<TestSshd> {
  const hostKeys = utils.generateKeyPairSync('ed25519');
  const allowed = utils.parseKey(o.authorizedKey);
  if (allowed instanceof Error) throw allowed;
  const execs: TestSshd['execs'] = [];
  const clients = new Set<Connection>();
  const server = new Server({ hostKeys: [hostKeys.private] }, (client) => {
    clients.add(client);
    client.on('close', () => clients.delete(client));
    client.on('error', () => undefined);
    let user = '';
    client.on('authentication', (ctx) => {
      const ok = ctx.method === 'publickey' && ctx.username === o.user && ctx.key.algo === allowed.type && ctx.key.data.equals(allowed.getPublicSSH());
      if (!ok) return ctx.reject(['publickey']);
      if (ctx.signature && !allowed.verify(ctx.blob!, ctx.signature, ctx.hashAlgo)) return ctx.reject(['publickey']);
      user = ctx.username;
      ctx.accept();
    });
    client.on('ready', () => {
      client.on('session', (accept) => {
        const session = accept();
        session.on('exec', (acceptExec, _reject, info) => {
          const stream = acceptExec();
          execs.push({ user, command: info.command });
          const r = o.exec ? o.exec(info.command) : { stdout: `ran: ${info.command}\n`, code: 0 };
          stream.write(r.stdout);
          stream.exit(r.code);
          stream.end();
        });
        if (o.root) session.on('sftp', (acceptSftp) => serveSftp(acceptSftp(), o.root!));
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  const pub = utils.parseKey(hostKeys.public);
  if (pub instanceof Error) throw pub;
  return {
    port,
    hostKey: `${pub.type} ${pub.getPublicSSH().toString('base64')}`,
    execs,
    async close() {
      for (const c of clients) c.end();
      await new Promise((r) => server.close(r));
    },
  };
}

/** Enough of an SFTP server for OpenSSH's scp: paths, stat, open/read/write/close. */
function serveSftp(sftp: SFTPWrapper, root: string): void {
  const { STATUS_CODE, OPEN_MODE } = utils.sftp;
  const openFlags = (f: number) => {
    const c = fs.constants;
    const rw = f & OPEN_MODE.READ && f & OPEN_MODE.WRITE ? c.O_RDWR : f & OPEN_MODE.WRITE ? c.O_WRONLY : c.O_RDONLY;
    return rw | (f & OPEN_MODE.CREAT ? c.O_CREAT : 0) | (f & OPEN_MODE.TRUNC ? c.O_TRUNC : 0) | (f & OPEN_MODE.EXCL ? c.O_EXCL : 0) | (f & OPEN_MODE.APPEND ? c.O_APPEND : 0);
  };
  // The client's EOF ends the session with exit status 0, as sshd does when sftp-server exits
  // (scp fails without one); ssh2's SFTP server has no exit(), so the status goes out directly.
  sftp.on('end', () => {
    const chan = sftp as unknown as { _protocol: { exitStatus(id: number, code: number): void }; outgoing: { id: number } };
    chan._protocol.exitStatus(chan.outgoing.id, 0);
    sftp.end();
  });
  const files = new Map<number, number>();
  let next = 1;
  const local = (p: string) => path.join(root, path.posix.resolve('/', p));
  const attrs = (st: fs.Stats) => ({ mode: st.mode, uid: st.uid, gid: st.gid, size: st.size, atime: Math.floor(st.atimeMs / 1000), mtime: Math.floor(st.mtimeMs / 1000) });
  const handle = (h: Buffer) => files.get(h.readUInt32BE(0));
  const fail = (id: number, err: unknown) => sftp.status(id, (err as NodeJS.ErrnoException).code === 'ENOENT' ? STATUS_CODE.NO_SUCH_FILE : STATUS_CODE.FAILURE);
  sftp.on('REALPATH', (id: number, p: string) => {
    const abs = path.posix.resolve('/', p);
    sftp.name(id, [{ filename: abs, longname: abs, attrs: {} as never }]);
  });
  const stat = (id: number, p: string) => {
    try {
      sftp.attrs(id, attrs(fs.statSync(local(p))));
    } catch (err) {
      fail(id, err);
    }
  };
  sftp.on('STAT', stat);
  sftp.on('LSTAT', stat);
  sftp.on('OPEN', (id: number, p: string, flags: number) => {
    try {
      const fd = fs.openSync(local(p), openFlags(flags), 0o644);
      const h = Buffer.alloc(4);
      h.writeUInt32BE(next);
      files.set(next++, fd);
      sftp.handle(id, h);
    } catch (err) {
      fail(id, err);
    }
  });
  sftp.on('WRITE', (id: number, h: Buffer, offset: number, data: Buffer) => {
    fs.writeSync(handle(h)!, data, 0, data.length, offset);
    sftp.status(id, STATUS_CODE.OK);
  });
  sftp.on('READ', (id: number, h: Buffer, offset: number, len: number) => {
    const buf = Buffer.alloc(len);
    const n = fs.readSync(handle(h)!, buf, 0, len, offset);
    if (n === 0) sftp.status(id, STATUS_CODE.EOF);
    else sftp.data(id, buf.subarray(0, n));
  });
  sftp.on('FSTAT', (id: number, h: Buffer) => sftp.attrs(id, attrs(fs.fstatSync(handle(h)!))));
  sftp.on('FSETSTAT', (id: number) => sftp.status(id, STATUS_CODE.OK));
  sftp.on('SETSTAT', (id: number) => sftp.status(id, STATUS_CODE.OK));
  sftp.on('CLOSE', (id: number, h: Buffer) => {
    const fd = handle(h);
    if (fd !== undefined) {
      fs.closeSync(fd);
      files.delete(h.readUInt32BE(0));
    }
    sftp.status(id, STATUS_CODE.OK);
  });
}
