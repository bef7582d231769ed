/**
 * The states of an Image's copy on a host, and the verdict on a copy whose facts are known: it is
 * used only when it matches spec.source.sha256 and (where qemu-img looked) spec.format. Pure.
 */
import type { ImageObject } from '../../store';
import type { FileFacts } from './file-facts';

/** Why a copy cannot be used; also the Image's Ready=False reasons. */
export type ImageFailure = 'DownloadFailed' | 'SourceNotFound' | 'ChecksumMismatch' | 'FormatMismatch' | 'InvalidImage';

export type ImageState =
  /** usable; `facts` undefined: used unverified (a test-driver host, no file, no sha256 asked) */
  | { state: 'ready'; path: string; facts?: FileFacts }
  | { state: 'downloading'; receivedBytes: number; totalBytes?: number }
  | { state: 'verifying'; path: string }
  /** `retryAt`: when it is tried again (Infinity: not before the Image's spec changes) */
  | { state: 'failed'; reason: ImageFailure; message: string; retryAt: number; path?: string; facts?: FileFacts };

/** A verdict on a copy: usable or not. */
export type Verdict = Extract<ImageState, { state: 'ready' | 'failed' }>;

/**
 * Ready, or why the copy at `path` must not be used: its sum differs from spec.source.sha256
 * (both sums in the message), qemu-img found another format than spec.format, or a downloaded
 * image names a backing file (it could read any file of the host).
 */
export function judge(img: Pick<ImageObject, 'spec'>, path: string, facts: FileFacts): Verdict {
  const want = img.spec.source?.sha256;
  const fail = (reason: ImageFailure, message: string): Verdict => ({ state: 'failed', reason, message, retryAt: Infinity, path, facts });
  if (want && facts.sha256 !== want) {
    return fail('ChecksumMismatch', `the sha256 of ${path} is ${facts.sha256}, but spec.source.sha256 is ${want}`);
  }
  const declared = img.spec.format ?? 'qcow2';
  if (facts.format && facts.format !== declared) {
    return fail('FormatMismatch', `${path} is a ${facts.format} image (qemu-img info), but spec.format is ${declared}`);
  }
  if (img.spec.source?.url && facts.backingFile) {
    return fail('InvalidImage', `the downloaded image names a backing file (${facts.backingFile}): refused`);
  }
  return { state: 'ready', path, facts };
}
