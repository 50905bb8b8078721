/** Redis Cluster divides the key space into this many hash slots. */
export const SLOT_COUNT = 16_384;

/** CRC16/XMODEM (polynomial 0x1021), the checksum Redis Cluster hashes keys and shard channels with. */
const crcTable = (() => {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
    table[byte] = crc & 0xffff;
  }
  return table;
})();

/**
 * The hash slot of a key or shard channel, as `CLUSTER KEYSLOT` computes it. A hash tag (the text
 * between the first `{` and the next `}`, when not empty) is hashed instead of the whole name, so
 * `p:{ch:room:1}` and `p:{ch:room:1}:log` share a slot. Computed here rather than asked of Redis so
 * that routing a publish costs no round trip.
 */
export function keySlot(key: string): number {
  let bytes = Buffer.from(key, "utf8");
  const open = bytes.indexOf(0x7b); // {
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1); // }
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ (crcTable[((crc >> 8) ^ byte) & 0xff] ?? 0);
  return crc % SLOT_COUNT;
}
