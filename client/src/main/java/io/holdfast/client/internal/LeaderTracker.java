package io.holdfast.client.internal;

import io.holdfast.client.Leader;
import io.holdfast.client.WatchBatch;
import io.holdfast.client.WatchEvent;

/**
 * An election's leader as its watch shows it: the lock's current grant, and an announcement that
 * counts only if it was written under that grant. Fed one batch at a time, in log order.
 */
final class LeaderTracker {
  private final String lockName;
  private final String key;
  private long grantSession;
  private long grantToken;
  private Leader current;

  LeaderTracker(String lockName, String key) {
    this.lockName = lockName;
    this.key = key;
  }

  /** The leader after {@code batch}, or null when it is the same as before. */
  Leader onBatch(WatchBatch batch) {
    Leader now = current == null ? Leader.NONE : current;
    if (batch.snapshot()) {
      // A snapshot is the whole state: a grant or an announcement it does not list is gone.
      grantSession = 0;
      grantToken = 0;
      now = Leader.NONE;
    }
    for (WatchEvent e : batch.events()) {
      if (e.kind() == WatchEvent.Kind.LOCK_ACQUIRED && e.lockName().equals(lockName)) {
        grantSession = e.sessionId();
        grantToken = e.token();
      } else if (e.kind() == WatchEvent.Kind.LOCK_RELEASED && e.lockName().equals(lockName)) {
        grantSession = 0;
        grantToken = 0;
        now = Leader.NONE;
      } else if (e.kind() == WatchEvent.Kind.KEY_PUT && e.key().equals(key)) {
        // An announcement left by a leader that is gone does not count.
        now = grantToken != 0 && e.kv().fenceToken() == grantToken
            ? new Leader(e.kv().valueAsString(), grantToken, grantSession) : Leader.NONE;
      } else if (e.kind() == WatchEvent.Kind.KEY_DELETED && e.key().equals(key)) {
        now = Leader.NONE;
      }
    }
    if (now.equals(current)) {
      return null;
    }
    current = now;
    return now;
  }
}
