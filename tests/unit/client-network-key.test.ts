// clientNetworkKey: the key a client address is rate limited under (IPv4 as is, IPv6 per /64, mapped IPv4 as IPv4).
import { clientNetworkKey } from '../../src/abuse';

describe('clientNetworkKey', () => {
  it.each([
    ['IPv4', '192.0.2.1', '192.0.2.1'],
    ['IPv4 with zeros', '10.0.0.0', '10.0.0.0'],
    ['IPv6 written in full', '2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8:0:0::/64'],
    ['IPv6 compressed', '2001:db8::1', '2001:db8:0:0::/64'],
    ['IPv6 in upper case', '2001:DB8::1', '2001:db8:0:0::/64'],
    ['IPv6 with a non-zero /64', '2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['IPv6 compressed in the middle of the /64', '2001:db8::2:0:0:0:1', '2001:db8:0:2::/64'],
    ['IPv6 link-local with a zone id', 'fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['IPv6 with a numeric zone id', 'fe80::abcd%2', 'fe80:0:0:0::/64'],
    ['IPv6 with a zone id holding a dot (a VLAN)', 'fe80::1%eth0.100', 'fe80:0:0:0::/64'],
    ['IPv6 with an embedded IPv4 tail (NAT64)', '64:ff9b::192.0.2.33', '64:ff9b:0:0::/64'],
    ['IPv6 with an embedded IPv4 tail, uncompressed', '2001:db8:1:2:3:4:1.2.3.4', '2001:db8:1:2::/64'],
    ['IPv6 loopback', '::1', '0:0:0:0::/64'],
    ['IPv6 unspecified', '::', '0:0:0:0::/64'],
    ['IPv4-compatible IPv6 (deprecated, not mapped)', '::1.2.3.4', '0:0:0:0::/64'],
    ['IPv4-mapped IPv6, dotted', '::ffff:1.2.3.4', '1.2.3.4'],
    ['IPv4-mapped IPv6, upper case', '::FFFF:1.2.3.4', '1.2.3.4'],
    ['IPv4-mapped IPv6, in hex', '::ffff:102:304', '1.2.3.4'],
    ['IPv4-mapped IPv6, uncompressed', '0:0:0:0:0:ffff:c000:0201', '192.0.2.1'],
    ['IPv4-mapped IPv6 with a zone id', '::ffff:1.2.3.4%eth0', '1.2.3.4'],
    ['IPv4-mapped IPv6 of the top address', '::ffff:255.255.255.255', '255.255.255.255'],
  ])('keys %s (%s) as %s', (_case, ip, key) => {
    expect(clientNetworkKey(ip)).toBe(key);
  });

  it.each([
    ['the first and last address of a /64', '2001:db8:1:2::', '2001:db8:1:2:ffff:ffff:ffff:ffff'],
    ['two hosts of a /64', '2001:db8:1:2::1', '2001:db8:1:2:a:b:c:d'],
    ['two spellings of one address', '2001:db8:0:0:1::', '2001:0DB8::1:0:0:0'],
    ['an address with and without a zone id', 'fe80::1%eth0', 'fe80::2'],
    ['IPv4-mapped IPv6 and its IPv4 address', '::ffff:198.51.100.7', '198.51.100.7'],
    ['IPv4-mapped IPv6 in hex and its IPv4 address', '::ffff:c633:6407', '198.51.100.7'],
  ])('gives %s one key', (_case, first, second) => {
    expect(clientNetworkKey(first)).toBe(clientNetworkKey(second));
  });

  it.each([
    ['neighbouring /64s', '2001:db8:1:2::1', '2001:db8:1:3::1'],
    ['/64s that differ in the first group', '2001:db8:1:2::1', '2002:db8:1:2::1'],
    ['/64s that differ only in the fourth group', '2001:db8:1:2::1', '2001:db8:1:ffff::1'],
    ['two IPv4 addresses', '198.51.100.7', '198.51.100.8'],
    ['two IPv4-mapped IPv6 addresses', '::ffff:198.51.100.7', '::ffff:198.51.100.8'],
    ['an IPv4 address and an IPv6 /64 holding it', '1.2.3.4', '2001:db8::1.2.3.4'],
  ])('gives %s different keys', (_case, first, second) => {
    expect(clientNetworkKey(first)).not.toBe(clientNetworkKey(second));
  });

  it.each([
    ['the empty string', ''],
    ['words', 'not an address'],
    ['five IPv4 parts', '1.2.3.4.5'],
    ['an IPv4 part over 255', '256.1.1.1'],
    ['an IPv4 address with spaces', ' 1.2.3.4 '],
    ['three colons', ':::'],
    ['two "::"', '1::2::3'],
    ['nine IPv6 groups', '1:2:3:4:5:6:7:8:9'],
    ['a non-hex IPv6 group', '2001:db8::g'],
    ['a mapped address with a bad IPv4 part', '::ffff:999.1.1.1'],
    ['a lone zone separator', '%'],
    ['a very long string', 'x'.repeat(10_000)],
  ])('does not throw on %s, and keys it apart from every address', (_case, input) => {
    const key = clientNetworkKey(input);
    expect(key).toBe(`other:${input}`);
    expect(key).not.toBe(clientNetworkKey('1.2.3.4'));
    expect(key).not.toBe(clientNetworkKey('::1'));
  });
});
