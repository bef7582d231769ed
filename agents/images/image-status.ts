/**
 * The status agents write on an Image: each host's entry in status.hosts (its copy's state), and
 * from all entries the phase, the Ready condition and the facts found (sha256, format, size). Pure.
 */
import type { ImageHostCopy, ImageStatus } from '../../schemas/types.gen';
import { setCondition } from '../../kube/conditions';
import { formatBytes } from '../../schemas/quantity';
import type { FileFacts } from './file-facts';
import type { ImageState } from './verdict';

/** One host's report: its entry in status.hosts, and the facts of its copy when it has them. */
export interface HostReport {
  copy: ImageHostCopy;
  facts?: FileFacts;
}

/**
 * Host `host`'s entry for a copy in state `st`; facts without a probed format (test-driver hosts)
 * report `declaredFormat`.
 */
export function hostReport(host: string, st: ImageState, declaredFormat = 'qcow2'): HostReport {
  const facts = st.state === 'ready' || st.state === 'failed' ? st.facts && { ...st.facts, format: st.facts.format ?? declaredFormat } : undefined;
  switch (st.state) {
    case 'ready':
      return { copy: { name: host, path: st.path, ready: true, reason: st.facts ? 'Ready' : 'Unverified' }, facts };
    case 'verifying':
      return { copy: { name: host, path: st.path, ready: false, reason: 'Verifying' } };
    case 'downloading': {
      // In tenths, so that a download writes the status ten times, not at every reconcile.
      const message = st.totalBytes ? `${10 * Math.floor((10 * st.receivedBytes) / st.totalBytes)}% of ${st.totalBytes} bytes` : 'size unknown';
      return { copy: { name: host, ready: false, reason: 'Downloading', message } };
    }
    case 'failed':
      return { copy: { name: host, ...(st.path ? { path: st.path } : {}), ready: false, reason: st.reason, message: st.message }, facts };
  }
}

/** The worst first: what the Ready condition reports when hosts disagree. */
const FAILURES = ['ChecksumMismatch', 'FormatMismatch', 'InvalidImage', 'SourceNotFound', 'DownloadFailed'];
const PROGRESS = ['Downloading', 'Verifying'];

/** The copies in a sentence: "host a" or "hosts a, b and 3 more". */
function hostsText(copies: readonly ImageHostCopy[]): string {
  const names = copies.map((c) => c.name);
  const shown = names.slice(0, 3).join(', ');
  return names.length === 1 ? `host ${shown}` : `hosts ${shown}${names.length > 3 ? ` and ${names.length - 3} more` : ''}`;
}

/**
 * `previous` with the reports merged into status.hosts (by host name), the facts of the reports
 * that have them, and phase and Ready recomputed from all entries: the worst failure of any host,
 * else a copy still in progress, else Ready (reason Unverified when no copy could be verified).
 */
export function imageStatus(previous: ImageStatus, reports: readonly HostReport[], generation: number, now: number): ImageStatus {
  const next: ImageStatus = structuredClone(previous);
  // Entries of an older spec say nothing about this one: hosts report again when they use it.
  const sameSpec = (previous.observedGeneration ?? generation) === generation;
  const hosts = sameSpec ? [...(next.hosts ?? [])] : [];
  if (!sameSpec) {
    delete next.sha256;
    delete next.format;
    delete next.size;
  }
  for (const r of reports) {
    const i = hosts.findIndex((h) => h.name === r.copy.name);
    if (i >= 0) hosts[i] = r.copy;
    else hosts.push(r.copy);
    if (r.facts) {
      next.sha256 = r.facts.sha256;
      if (r.facts.format) next.format = r.facts.format;
      next.size = formatBytes(r.facts.virtualSize ?? r.facts.bytes);
    }
  }
  hosts.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  next.hosts = hosts;
  next.observedGeneration = generation;

  let ready: { status: 'True' | 'False'; reason: string; message: string };
  const failure = FAILURES.find((f) => hosts.some((h) => h.reason === f));
  const progress = PROGRESS.find((p) => hosts.some((h) => h.reason === p));
  if (failure) {
    const bad = hosts.filter((h) => h.reason === failure);
    next.phase = 'Failed';
    ready = { status: 'False', reason: failure, message: `${hostsText(bad)}: ${bad[0].message ?? failure}` };
  } else if (progress) {
    const busy = hosts.filter((h) => h.reason === progress);
    next.phase = progress === 'Downloading' ? 'Downloading' : 'Verifying';
    ready = { status: 'False', reason: progress, message: `${progress.toLowerCase()} on ${hostsText(busy)}` };
  } else if (hosts.length > 0 && hosts.every((h) => h.reason === 'Unverified')) {
    next.phase = 'Ready';
    ready = { status: 'True', reason: 'Unverified', message: `used as it is on ${hostsText(hosts)} (test driver: no file, no sha256 to verify)` };
  } else {
    next.phase = 'Ready';
    const sum = next.sha256 ? ` (sha256 ${next.sha256})` : '';
    ready = { status: 'True', reason: 'Ready', message: `verified on ${hostsText(hosts.filter((h) => h.reason === 'Ready'))}${sum}` };
  }
  next.conditions = setCondition(next.conditions, { type: 'Ready', ...ready, observedGeneration: generation }, now);
  return next;
}
