/**
 * Whether the kernel tracks connections in the bridge family (CONFIG_NF_CONNTRACK_BRIDGE), which
 * decides how the firewall matches replies (`ct state` or stateless). Tried for real: one nft
 * transaction creates table `bridge stratus-probe` with a `ct state` rule and deletes it again,
 * so nothing is left behind whatever the answer.
 */
import { runIn } from './exec';

const PROBE_TABLE = 'stratus-probe';

function transaction(rule: string): string {
  return [
    `add table bridge ${PROBE_TABLE}`,
    `delete table bridge ${PROBE_TABLE}`,
    `table bridge ${PROBE_TABLE} {`,
    '  chain probe {',
    `    ${rule}`,
    '  }',
    '}',
    `delete table bridge ${PROBE_TABLE}`,
    '',
  ].join('\n');
}

/** True when `ct state` works in a bridge table (in `netns`, default this namespace); throws when nft itself does not work. */
export async function bridgeConntrack(opts: { netns?: string } = {}): Promise<boolean> {
  try {
    await runIn(opts.netns, 'nft', ['-f', '-'], { input: transaction('ct state established,related accept') });
    return true;
  } catch (err) {
    // the same transaction without conntrack: if it works, only bridge conntrack is missing
    await runIn(opts.netns, 'nft', ['-f', '-'], { input: transaction('meta l4proto tcp accept') }).catch(() => {
      throw err;
    });
    return false;
  }
}
