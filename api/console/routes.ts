// The console subresources of a VirtualMachine, proxied to the agent of its host (api/console/proxy.ts):
//   GET …/namespaces/NS/virtualmachines/NAME/console   websocket: the serial console
//   GET …/namespaces/NS/virtualmachines/NAME/vnc       websocket: the VNC display (spec.console.type vnc)
//   GET …/namespaces/NS/virtualmachines/NAME/log       the console log, text/plain (?tailLines=N&follow=true, as pods/log)
// The console and VNC are authorized as `create` of virtualmachines/console (or /vnc), as Kubernetes
// authorizes pods/exec: editors and admins of the project, never viewers; the log as `get` of
// virtualmachines/log, as pods/log: viewers too. A VM that does not run gets a 409 that says so.

import type Router from '@koa/router';
import type { Context } from 'koa';
import { BadRequestError } from '../../errors';
import { kindByPlural } from '../../schemas/kinds';
import type { Target } from '../target';
import type { UserInfo } from '../auth/identity';
import type { Verb } from '../auth/authorizer';
import type { ConsoleProxy, ConsoleSubresource } from './proxy';
import { isUpgrade, takeUpgrade } from './upgrade';

export interface ConsoleRoutesOptions {
  proxy: ConsoleProxy;
  /** authorizes `verb` on the target (throws 403) */
  authorize: (ctx: Context, t: Target, verb: Verb) => Promise<void>;
}

const VERB: Record<ConsoleSubresource, Verb> = { console: 'create', vnc: 'create', log: 'get' };

/** A non-negative integer query parameter, or a 400 naming it. */
function intParam(ctx: Context, name: string): number | undefined {
  const v = ctx.query[name];
  if (v === undefined || v === '') return undefined;
  const s = Array.isArray(v) ? v[v.length - 1] : v;
  if (!/^\d{1,9}$/.test(s)) throw new BadRequestError(`${name}: Invalid value: "${s}": must be a non-negative integer`);
  return Number(s);
}

function boolParam(ctx: Context, name: string): boolean {
  const v = ctx.query[name];
  const s = Array.isArray(v) ? v[v.length - 1] : v;
  if (s === undefined || s === '' || s === 'false' || s === '0') return false;
  if (s === 'true' || s === '1') return true;
  throw new BadRequestError(`${name}: Invalid value: "${s}": must be true or false`);
}

export function mountConsole(router: Router, base: string, o: ConsoleRoutesOptions): void {
  const kind = kindByPlural('virtualmachines')!;
  const target = async (ctx: Context, sub: ConsoleSubresource): Promise<Target> => {
    const { namespace, name } = ctx.params as Record<string, string>;
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace)) throw new BadRequestError(`invalid namespace "${namespace}"`);
    const t: Target = { kind, namespace, name, allNamespaces: false, subresource: sub };
    ctx.state.target = t;
    ctx.state.verb = VERB[sub];
    await o.authorize(ctx, t, VERB[sub]);
    return t;
  };
  const user = (ctx: Context) => (ctx.state.user as UserInfo | undefined)?.name;

  for (const sub of ['console', 'vnc'] as const) {
    router.get(`${base}/namespaces/:namespace/virtualmachines/:name/${sub}`, async (ctx) => {
      const t = await target(ctx, sub);
      const found = await o.proxy.target(t.namespace, t.name!, sub);
      if (!isUpgrade(ctx.req)) {
        throw new BadRequestError(`the ${sub} of a VirtualMachine is a websocket: send Upgrade: websocket (e.g. \`stratus console ${t.name}\`)`);
      }
      // The agent first, then the client's socket: a refusal is still an HTTP answer.
      await o.proxy.openSocket(found, ctx.req, () => takeUpgrade(ctx.req), user(ctx), ctx.state.log);
      ctx.respond = false;
      ctx.status = 101;
    });
  }

  router.get(`${base}/namespaces/:namespace/virtualmachines/:name/log`, async (ctx) => {
    const t = await target(ctx, 'log');
    const q = { tailLines: intParam(ctx, 'tailLines'), follow: boolParam(ctx, 'follow') };
    const found = await o.proxy.target(t.namespace, t.name!, 'log');
    const stream = await o.proxy.openLog(found, q, user(ctx));
    ctx.status = 200;
    ctx.type = 'text/plain; charset=utf-8';
    ctx.set('Cache-Control', 'no-store');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.body = stream;
  });
}
