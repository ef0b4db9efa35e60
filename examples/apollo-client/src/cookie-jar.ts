// A minimal cookie jar for Node: a fetch wrapper that keeps the API's Set-Cookie and sends it back as Cookie.
import { parseSetCookie } from 'cookie';

/** One stored cookie: its value, and when it expires (ms since the epoch), or undefined for a session cookie. */
interface StoredCookie {
  readonly value: string;
  readonly expiresAtMs: number | undefined;
}

/**
 * What a browser does with cookies, reduced to what talking to one API needs. Node's `fetch` has no cookie jar,
 * so without this the session cookie set by `login` would be dropped and every later request would be anonymous.
 *
 * The jar ignores `Domain` and `Path` (and `Secure`, `SameSite`) on purpose: its `fetch` is handed to one
 * HttpLink that only ever calls one URL, so every cookie it receives belongs to that URL. A client that talks to
 * several hosts needs a full jar (tough-cookie, for example) instead.
 */
export class CookieJar {
  private readonly cookies = new Map<string, StoredCookie>();

  /** The wrapped fetch to pass to HttpLink: sends the stored cookies, stores the ones the answer sets. */
  readonly fetch: typeof fetch = async (input, init) => {
    const headers = new Headers(init?.headers);
    const cookieHeader = this.cookieHeader();
    if (cookieHeader !== undefined) headers.set('cookie', cookieHeader);
    const response = await fetch(input, { ...init, headers });
    // getSetCookie keeps each Set-Cookie apart; `headers.get('set-cookie')` would join them with commas,
    // which cannot be split again safely because Expires dates contain commas.
    for (const line of response.headers.getSetCookie()) this.store(line);
    return response;
  };

  /** Names of the cookies currently held (expired ones are not held), sorted: what the demo reports. */
  names(): string[] {
    this.dropExpired();
    return [...this.cookies.keys()].sort();
  }

  /** The Cookie header value for the next request, or undefined when the jar is empty. */
  private cookieHeader(): string | undefined {
    this.dropExpired();
    if (this.cookies.size === 0) return undefined;
    // Sent back exactly as received, as browsers do: the server chose the value's encoding.
    return [...this.cookies].map(([name, { value }]) => `${name}=${value}`).join('; ');
  }

  /** Applies one Set-Cookie line, as a browser would: a cookie expired on arrival deletes the one held. */
  private store(line: string): void {
    // No percent-decoding: the value is kept exactly as sent, so it goes back byte for byte.
    const parsed = parseSetCookie(line, { decode: (value) => value });
    if (parsed.name === '' || parsed.value === undefined) return;
    // Max-Age wins over Expires (RFC 6265 §5.3); the server's logout sends Max-Age=0 with a 1970 Expires.
    const expiresAtMs =
      parsed.maxAge !== undefined ? Date.now() + parsed.maxAge * 1000 : parsed.expires?.getTime();
    if (expiresAtMs !== undefined && expiresAtMs <= Date.now()) {
      this.cookies.delete(parsed.name);
      return;
    }
    this.cookies.set(parsed.name, { value: parsed.value, expiresAtMs });
  }

  /** Forgets cookies whose lifetime has passed, so they are never sent again. */
  private dropExpired(): void {
    const nowMs = Date.now();
    for (const [name, { expiresAtMs }] of this.cookies) {
      if (expiresAtMs !== undefined && expiresAtMs <= nowMs) this.cookies.delete(name);
    }
  }
}
