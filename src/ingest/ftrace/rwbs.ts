/**
 * Linux's `rwbs` text (blk_fill_rwbs, kernel/trace/blktrace.c): an optional F for a preflush, the
 * operation (R read, W write, D discard, DE secure erase, F flush, N anything else such as write
 * zeroes), then flag letters (F FUA, A readahead, S sync, M meta). "FF" is a flush request with
 * the preflush flag, "FWS" a synchronous write preceded by a flush, "WFS" a FUA write.
 */
import type { BlkOp } from '../../model/events.ts';

const OP_LETTERS = 'RWDFN';

export function rwbsOp(rwbs: string): BlkOp {
  const op = rwbs[0] === 'F' && rwbs.length > 1 && OP_LETTERS.includes(rwbs[1]!) ? rwbs.slice(1) : rwbs;
  switch (op[0]) {
    case 'R':
      return 'read';
    case 'W':
      return 'write';
    case 'D':
      return op[1] === 'E' ? 'secure_erase' : 'discard';
    case 'F':
      return 'flush';
    default:
      return 'other';
  }
}
