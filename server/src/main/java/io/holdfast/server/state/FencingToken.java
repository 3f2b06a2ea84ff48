package io.holdfast.server.state;

/**
 * The one place the fencing token's layout is defined. A token is a single positive int64:
 *
 * <pre>
 *   token = epoch * 2^48 + index
 * </pre>
 *
 * where {@code index} is the revision of the command that granted the lock (the Raft log index of
 * its entry, or, when several commands share one entry, one more than the previous command's:
 * see {@code HoldfastState#lastRevision}; a grant after the first in one entry takes a revision of
 * its own, so no two grants share a token: see {@code LockTable#grant}) and {@code epoch}
 * is the cluster's fencing epoch, which starts at 0 and which every restore from a backup raises
 * by one. In epoch 0 a token is the plain revision.
 *
 * <p>Why it never repeats: within an epoch the revision only grows. A cluster restored from a
 * backup of epoch {@code e} runs in epoch {@code e + 1} or above (above every epoch an earlier
 * restore used: see {@code backup.RestoreLedger}), so each of its tokens is at least
 * {@code (e + 1) * 2^48}, above every token of epoch {@code e} (whose index part stays below 2^48:
 * that is 2.8e14 entries, nearly 900 years at 10,000 writes a second), including tokens the old
 * cluster handed out after the backup was taken. 15 bits are left for epochs (32,767 restores).
 *
 * <p>Session ids and KV revisions are revisions too, and take the same layout for the same
 * reason: a client of the old cluster must never find its session id or a revision it read naming
 * something else in the restored cluster. Values stay below 2^53 for the first 31 epochs, so
 * JavaScript dashboards show them exactly.
 */
public record FencingToken(long epoch, long index) {
  public static final int INDEX_BITS = 48;
  public static final long INDEX_LIMIT = 1L << INDEX_BITS;
  public static final long MAX_EPOCH = (Long.MAX_VALUE >> INDEX_BITS) - 1;

  public FencingToken {
    if (epoch < 0 || epoch > MAX_EPOCH) {
      throw new IllegalArgumentException("fencing epoch " + epoch + " is outside 0.." + MAX_EPOCH);
    }
    if (index < 0 || index >= INDEX_LIMIT) {
      throw new IllegalArgumentException("log index " + index + " is outside 0..2^" + INDEX_BITS);
    }
  }

  /**
   * The token for a grant at {@code index} in {@code epoch}. Plain arithmetic, never a throw: it
   * runs inside apply, and an index past 2^48 still gives a larger token within the epoch.
   */
  public static long value(long epoch, long index) {
    return epoch * INDEX_LIMIT + index;
  }

  /** Splits a token into its epoch and index. */
  public static FencingToken of(long token) {
    return new FencingToken(token >>> INDEX_BITS, token & (INDEX_LIMIT - 1));
  }

  public long value() {
    return value(epoch, index);
  }

  @Override
  public String toString() {
    return value() + " (epoch " + epoch + ", index " + index + ")";
  }
}
