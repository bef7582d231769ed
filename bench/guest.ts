/**
 * Benchmark of real guests (npm run bench:guest); prints one JSON object.
 *  1. Time from `stratus apply` of a Debian VM to its first working `stratus ssh` login (cloud-init
 *     installed the key, sshd answers through the host's forward), p50 of N boots one after
 *     another, with TCG and, where scripts/guest/accel.sh finds that KVM really works, with KVM.
 *  2. The serial console's round trip through the frontend: a keystroke sent on the console
 *     websocket until its echo from the guest's tty comes back (frontend → agent → qemu → guest).
 * Everything is real: a session libvirtd, qemu, the frontend, the controllers and an agent as
 * processes (test/helpers/guest-rig.ts), Cassandra on 127.0.0.1:9042.
 * Run: npm run build && node dist/bench/guest.js [--boots 5] [--keys 30]
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { debianVm, guestUnavailable, startGuestRig, type GuestRig } from '../test/helpers/guest-rig';
import { openConsole } from '../test/helpers/console';
import { REPO } from '../test/helpers/frontend';
import { until } from '../test/helpers/wait';
import { progress } from './common';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN;
};
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

/** Applies VM `name`, waits for an SSH login, returns the seconds it took (the VM stays). */
async function bootToSsh(rig: GuestRig, name: string): Promise<number> {
  const t0 = performance.now();
  const r = await rig.apply([debianVm(rig, name)]);
  if (r.code !== 0) throw new Error(`apply ${name}: ${r.stderr}`);
  await until(`an SSH login to ${name}`, async () => (await rig.cli(['ssh', name, '--', 'true'])).code === 0,
    { timeoutMs: 600_000, everyMs: 1000, context: () => rig.logs() });
  return (performance.now() - t0) / 1000;
}

async function deleteVm(rig: GuestRig, name: string): Promise<void> {
  await rig.cli(['delete', 'vm', name]);
  await until(`${name} deleted`, async () => (await rig.cli(['get', 'vm', name])).code === 1, { timeoutMs: 180_000, everyMs: 1000 });
}

async function bootSeries(accel: 'qemu' | 'kvm', boots: number): Promise<{ bootsToSsh: number[]; p50s: number; rig: GuestRig; last: string }> {
  const rig = await startGuestRig(`bench_${accel}`, { virtType: accel });
  const times: number[] = [];
  let last = '';
  for (let i = 0; i < boots; i++) {
    last = `bench-${i}`;
    const s = await bootToSsh(rig, last);
    times.push(round(s));
    progress(`${accel}: boot ${i + 1}/${boots}: ssh after ${round(s)} s`);
    if (i < boots - 1) await deleteVm(rig, last);
  }
  return { bootsToSsh: times, p50s: percentile(times, 0.5), rig, last };
}

/** Logs in on the serial console of `vm`, then times `keys` keystroke echoes. */
async function consoleRoundTrip(rig: GuestRig, vm: string, keys: number): Promise<{ p50ms: number; p99ms: number; samples: number }> {
  await rig.cli(['ssh', vm, '--', 'echo debian:bench | sudo chpasswd']);
  const con = await openConsole(rig.fe, 'demo', vm);
  try {
    con.send('\r');
    await con.expect(/login: $/m, 60_000);
    con.send('debian\r');
    await con.expect(/Password: ?$/m, 20_000);
    con.send('bench\r');
    await con.expect(/\$ $/m, 30_000);
    const rtt: number[] = [];
    for (let i = 0; i < keys; i++) {
      const ch = String.fromCharCode(97 + (i % 26));
      const t0 = performance.now();
      con.send(ch);
      await con.expect(new RegExp(ch), 10_000);
      rtt.push(performance.now() - t0);
    }
    con.send('\x15'); // erase the line (Ctrl-U)
    return { p50ms: round(percentile(rtt, 0.5), 2), p99ms: round(percentile(rtt, 0.99), 2), samples: rtt.length };
  } finally {
    con.close();
  }
}

async function main(): Promise<void> {
  const missing = guestUnavailable();
  if (missing) {
    process.stdout.write(JSON.stringify({ skipped: `real guests cannot run here: ${missing}` }) + '\n');
    return;
  }
  const boots = arg('boots', 5);
  const keys = arg('keys', 30);
  let kvm: { available: boolean; reason?: string } = { available: false };
  let accel = 'qemu';
  try {
    accel = execFileSync('bash', [path.join(REPO, 'scripts/guest/accel.sh'), path.join(REPO, '.stratus')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (err) {
    kvm = { available: false, reason: String((err as { stderr?: string }).stderr ?? err).trim() };
  }
  if (accel !== 'kvm' && !kvm.reason) kvm = { available: false, reason: 'scripts/guest/accel.sh: a KVM guest did not boot here (TCG works)' };

  const tcg = await bootSeries('qemu', boots);
  let consoleRtt;
  try {
    consoleRtt = await consoleRoundTrip(tcg.rig, tcg.last, keys);
  } finally {
    await tcg.rig.close();
  }
  const out: Record<string, unknown> = {
    tcg: { boots, applyToSshSeconds: { p50: tcg.p50s, all: tcg.bootsToSsh } },
    kvm: accel === 'kvm' ? undefined : kvm,
    consoleRoundTripMs: consoleRtt,
  };
  if (accel === 'kvm') {
    const k = await bootSeries('kvm', boots);
    await k.rig.close();
    out['kvm'] = { available: true, boots, applyToSshSeconds: { p50: k.p50s, all: k.bootsToSsh } };
  }
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`bench guest: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
