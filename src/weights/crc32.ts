/**
 * CRC-32 (IEEE 802.3, the polynomial ZIP uses), table driven. Written here rather than taken
 * from fflate so that the ZIP writer and the reader's integrity check share one definition.
 */

// Built lazily so importing the module costs nothing until a checksum is needed.
let table: Uint32Array | undefined;

function crcTable(): Uint32Array {
  if (table) return table;
  table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

/** CRC-32 of `bytes` (optionally continuing from a previous `crc`), as an unsigned 32-bit number. */
export function crc32(bytes: Uint8Array, crc = 0): number {
  const t = crcTable();
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = t[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
