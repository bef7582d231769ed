// Running another program in the foreground with the terminal (ssh, scp): the child owns stdin,
// stdout and stderr until it exits, and its exit code becomes the CLI's.

import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { CliError } from './errors/cli-error';

/**
 * Runs `file args...` with the CLI's own terminal and resolves to its exit code (128+N when a
 * signal N ended it). Ctrl-C goes to the child (same process group): the CLI ignores SIGINT and
 * SIGQUIT meanwhile and ends after the child, as a shell does.
 */
export function execForeground(file: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const ignore = () => undefined;
    process.on('SIGINT', ignore);
    process.on('SIGQUIT', ignore);
    const done = () => {
      process.off('SIGINT', ignore);
      process.off('SIGQUIT', ignore);
    };
    const child = spawn(file, args, { stdio: 'inherit' });
    child.once('error', (err: NodeJS.ErrnoException) => {
      done();
      reject(err.code === 'ENOENT' ? new CliError(`${file} was not found: install the OpenSSH client (Debian: openssh-client)`) : err);
    });
    child.once('exit', (code, signal) => {
      done();
      resolve(code ?? 128 + (signal ? constants.signals[signal] : 0));
    });
  });
}
