/**
 * LibvirtHandle: the base of every JS object that owns a libvirt object reference.
 * Owns: the pointer, in-flight call accounting, and freeing (explicit, or on garbage collection).
 */
import type { LibvirtFunctionName } from './ffi';
import { check, type CallOptions, type CallResult, type LibvirtExecutor } from './executor';
import { LibvirtError } from './errors';
import { libvirt } from './ffi';

export type FreeFunction = 'virConnectClose' | 'virDomainFree' | 'virStoragePoolFree' | 'virStorageVolFree';

interface Held {
  executor: LibvirtExecutor;
  free: FreeFunction;
  ptr: bigint;
}

/**
 * Safety net for handles nobody freed: when the JS object is collected, its libvirt reference is
 * released on a worker thread (freeing can block: dropping a connection's last reference closes
 * it). A handle is only collectable when no call is using it, because each call keeps it alive.
 */
const finalizer = new FinalizationRegistry<Held>((held) => {
  held.executor.call(held.free, [held.ptr]).catch(() => undefined);
});

const INVALID: Record<FreeFunction, 'VIR_ERR_INVALID_CONN' | 'VIR_ERR_INVALID_DOMAIN' | 'VIR_ERR_INVALID_STORAGE_POOL' | 'VIR_ERR_INVALID_STORAGE_VOL'> = {
  virConnectClose: 'VIR_ERR_INVALID_CONN',
  virDomainFree: 'VIR_ERR_INVALID_DOMAIN',
  virStoragePoolFree: 'VIR_ERR_INVALID_STORAGE_POOL',
  virStorageVolFree: 'VIR_ERR_INVALID_STORAGE_VOL',
};

export abstract class LibvirtHandle {
  private pointer: bigint | undefined;
  private inflight = 0;
  private releasing: Promise<void> | undefined;
  private drained: (() => void) | undefined;

  /**
   * @param owner the connection this object came from. While it is open it holds its own
   *   reference, so dropping this object's reference cannot close it: no I/O, no lock wait, and
   *   the free runs right here instead of a round trip to a worker thread.
   */
  protected constructor(
    protected readonly executor: LibvirtExecutor,
    ptr: bigint,
    private readonly freeFunction: FreeFunction,
    private readonly owner?: LibvirtHandle,
  ) {
    this.pointer = ptr;
    finalizer.register(this, { executor, free: freeFunction, ptr }, this);
  }

  /** True once free()/close() was called; further calls fail with VIR_ERR_INVALID_*. */
  get isFreed(): boolean {
    return this.pointer === undefined || this.releasing !== undefined;
  }

  /**
   * Releases this object's libvirt reference once the calls in flight on it have finished.
   * Idempotent. Other handles (e.g. a Domain from this connection) stay usable: libvirt counts
   * references, and each handle holds its own.
   */
  free(): void {
    this.release().catch(() => undefined);
  }

  /** Like free(), but resolves when libvirt has released the reference. */
  protected release(): Promise<void> {
    if (this.releasing) return this.releasing;
    const ptr = this.pointer;
    if (ptr === undefined) return Promise.resolve();
    finalizer.unregister(this);
    if (this.inflight === 0 && this.owner && !this.owner.isFreed) {
      this.pointer = undefined;
      const rc = libvirt().fn[this.freeFunction](ptr) as number;
      this.releasing = rc >= 0 ? Promise.resolve() : Promise.reject(LibvirtError.local(this.freeFunction, INVALID[this.freeFunction], `${this.freeFunction} failed`));
      return this.releasing;
    }
    this.releasing = (async () => {
      if (this.inflight > 0) await new Promise<void>((resolve) => (this.drained = resolve));
      this.pointer = undefined;
      const r = await this.executor.call(this.freeFunction, [ptr]);
      check(this.freeFunction, r, (r.result as number) >= 0);
    })();
    return this.releasing;
  }

  /** The pointer, for passing to a call; throws if the handle was freed. */
  protected get ptr(): bigint {
    if (this.pointer === undefined || this.releasing !== undefined) {
      throw LibvirtError.local(
        this.freeFunction,
        INVALID[this.freeFunction],
        `${this.constructor.name} handle was already freed`,
      );
    }
    return this.pointer;
  }

  /**
   * Runs `fn` on a worker with this handle's pointer as first argument, holding the handle (and
   * so its pointer) alive and counted until the call returns.
   */
  protected invoke(fn: LibvirtFunctionName, rest: unknown[], options: CallOptions = {}): Promise<CallResult> {
    return this.invokeWith(fn, (ptr) => [ptr, ...rest], options);
  }

  /** invoke() for calls that take the pointer elsewhere than first: `args` builds the arguments. */
  protected invokeWith(fn: LibvirtFunctionName, args: (ptr: bigint) => unknown[], options: CallOptions = {}): Promise<CallResult> {
    return this.use((ptr) => this.executor.call(fn, args(ptr), { ...options, keepAlive: this }));
  }

  /**
   * @internal Runs `run` with this handle's pointer, counting it as a call in flight: free()
   * waits for it, and `run`'s closure keeps this object from being garbage collected. Used
   * directly when another handle's call takes this one as an argument.
   */
  async use<T>(run: (ptr: bigint) => Promise<T>): Promise<T> {
    const ptr = this.ptr;
    this.inflight++;
    try {
      return await run(ptr);
    } finally {
      this.inflight--;
      if (this.inflight === 0 && this.drained) {
        const drained = this.drained;
        this.drained = undefined;
        drained();
      }
    }
  }

  /** invoke(), failing unless the int result is >= 0; returns it. */
  protected async invokeInt(fn: LibvirtFunctionName, rest: unknown[], options: CallOptions = {}): Promise<CallResult & { result: number }> {
    const r = await this.invoke(fn, rest, options);
    check(fn, r, typeof r.result === 'number' && r.result >= 0);
    return r as CallResult & { result: number };
  }

  /** invoke() for functions returning a new object or string, failing on NULL. */
  protected async invokeValue<T>(fn: LibvirtFunctionName, rest: unknown[]): Promise<T> {
    const r = await this.invoke(fn, rest);
    check(fn, r, r.result !== null && r.result !== undefined);
    return r.result as T;
  }

  /** invokeValue(), but undefined when libvirt answers with the given "not found" error code. */
  protected async invokeLookup<T>(fn: LibvirtFunctionName, rest: unknown[], notFound: number): Promise<T | undefined> {
    const r = await this.invoke(fn, rest);
    if (r.result === null && r.error?.code === notFound) return undefined;
    check(fn, r, r.result !== null && r.result !== undefined);
    return r.result as T;
  }
}
