// The user as a client may see it: shared by accounts (which make users) and sessions (which read them on the hot path).

/** What a client may know about a user: never a hash, token or session. */
export interface PublicUser {
  readonly id: number;
  readonly email: string;
  readonly createdAt: Date;
}

/** The public part of a user row. */
export function toPublicUser(user: Pick<PublicUser, 'id' | 'email' | 'createdAt'>): PublicUser {
  return { id: user.id, email: user.email, createdAt: user.createdAt };
}
