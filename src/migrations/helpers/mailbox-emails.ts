// The data step of the mailbox migration, shared by both dialects: canonical emails, and a list of those that cannot be.
import { parseMailbox } from '../../accounts';

/** Runs one statement inside the migration's transaction and returns its rows. */
export type Execute = (sql: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;

/** One stored email the new rule does not accept as it is. */
interface Nonconforming {
  readonly userId: number;
  readonly email: string;
  readonly problem: string;
}

/**
 * Brings every stored email to the form registration now gives it (parseMailbox: one RFC 5321 mailbox, NFC,
 * IDNA domain). An email that has a canonical form nobody else holds is rewritten to it, so its owner signs in
 * exactly as before (login looks accounts up by the canonical form). The rest are left untouched and listed in
 * `nonconforming_emails` with the reason: emails that are not one mailbox (`x<victim@corp.example>`, lists,
 * comments), and lookalikes of another account's address. Their owners can still sign in with the email as they
 * registered it, but no mail is sent to them until an operator corrects the row (docs/security.md, "Account security", says how).
 *
 * Written against today's rule on purpose: it runs once per database, and a fresh database has no rows for a later
 * rule to treat differently.
 * @returns the listed accounts.
 */
export async function canonicaliseEmails(execute: Execute): Promise<readonly Nonconforming[]> {
  const rows = await execute('select id, email from users order by id');
  const users = rows.map((row) => ({ id: Number(row.id), email: String(row.email) }));
  const holders = new Map(users.map((user) => [user.email, user.id]));
  const listed: Nonconforming[] = [];
  for (const user of users) {
    const mailbox = parseMailbox(user.email);
    if (mailbox.ok && mailbox.address === user.email) continue;
    if (!mailbox.ok) {
      listed.push({ userId: user.id, email: user.email, problem: mailbox.problem });
      continue;
    }
    const holder = holders.get(mailbox.address);
    if (holder !== undefined) {
      // Two accounts for one inbox already: merging them is the owner's and the operator's call, not ours.
      listed.push({ userId: user.id, email: user.email, problem: `same mailbox as account ${holder}` });
      continue;
    }
    await execute('update users set email = ? where id = ?', [mailbox.address, user.id]);
    holders.delete(user.email);
    holders.set(mailbox.address, user.id);
  }
  const foundAt = new Date();
  for (const entry of listed) {
    await execute(
      'insert into nonconforming_emails (user_id, email, problem, found_at) values (?, ?, ?, ?)',
      [entry.userId, entry.email, entry.problem, foundAt],
    );
  }
  return listed;
}
