// The offline list of common passwords new passwords are checked against (zxcvbn-ts's dictionary, ~49,000 entries).
import { dictionary } from '@zxcvbn-ts/language-common';

let common: ReadonlySet<string> | undefined;

/**
 * Whether a password is on the common-passwords list, ignoring case: "Password1" is as guessable as "password1".
 * The list is the frequency-ranked password dictionary that zxcvbn-ts maintains (the top breached passwords);
 * it is loaded on first use and kept, about 1 MB of memory.
 */
export function isCommonPassword(password: string): boolean {
  common ??= new Set(dictionary['passwords-common']);
  return common.has(password.toLowerCase());
}

/** How many passwords the list holds; docs/security.md and tests quote it. */
export function commonPasswordCount(): number {
  return dictionary['passwords-common'].length;
}
