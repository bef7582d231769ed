// Reading the Kubernetes request parameters shared by every verb.

import type { Context } from 'koa';
import { BadRequestError } from '../errors';
import type { FieldValidation } from '../schemas/validate';

export function queryString(ctx: Context, name: string): string | undefined {
  const v = ctx.query[name];
  if (Array.isArray(v)) return v[v.length - 1];
  return v === undefined || v === '' ? undefined : v;
}

export function queryBool(ctx: Context, name: string): boolean {
  const v = queryString(ctx, name);
  return v === 'true' || v === '1';
}

export function dryRun(ctx: Context): boolean {
  const v = queryString(ctx, 'dryRun');
  if (v === undefined) return false;
  if (v !== 'All') throw new BadRequestError(`dryRun: Unsupported value: "${v}": supported values: "All"`);
  return true;
}

export function fieldValidation(ctx: Context): FieldValidation {
  const v = queryString(ctx, 'fieldValidation') ?? 'Strict';
  if (v !== 'Strict' && v !== 'Warn' && v !== 'Ignore') {
    throw new BadRequestError(`fieldValidation: Unsupported value: "${v}": supported values: "Ignore", "Strict", "Warn"`);
  }
  return v;
}

export function fieldManager(ctx: Context, fallback: string): string {
  const v = queryString(ctx, 'fieldManager');
  if (v !== undefined && v.length > 128) throw new BadRequestError('fieldManager: Too long: must have at most 128 bytes');
  if (v !== undefined) return v;
  const ua = ctx.get('User-Agent').split('/')[0];
  return ua || fallback;
}
