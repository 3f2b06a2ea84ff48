package io.holdfast.client.internal;

import io.holdfast.client.Leader;
import io.holdfast.client.WatchBatch;
import io.holdfast.client.WatchEvent;
import java.util.function.Consumer;

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
    Leader[] changed = new Leader[1];
    onBatch(batch, leader -> changed[0] = leader);
    return changed[0];
  }

  /**
   * Feeds {@code batch}, handing a change of leader to {@code observer}. The tracker moves past
   * the batch only once the observer returns: if it throws, the watch gives the same batch again,
   * and the change must be reported again rather than found to be old news.
   */
  void onBatch(WatchBatch batch, Consumer<Leader> observer) {
    long session = grantSession;
    long token = grantToken;
    Leader now = current == null ? Leader.NONE : current;
    if (batch.snapshot()) {
      // A snapshot is the whole state: a grant or an announcement it does not list is gone.
      session = 0;
      token = 0;
      now = Leader.NONE;
    }
    for (WatchEvent e : batch.events()) {
      if (e.kind() == WatchEvent.Kind.LOCK_ACQUIRED && e.lockName().equals(lockName)) {
        session = e.sessionId();
        token = e.token();
      } else if (e.kind() == WatchEvent.Kind.LOCK_RELEASED && e.lockName().equals(lockName)) {
        session = 0;
        token = 0;
        now = Leader.NONE;
      } else if (e.kind() == WatchEvent.Kind.KEY_PUT && e.key().equals(key)) {
        // An announcement left by a leader that is gone does not count.
        now = token != 0 && e.kv().fenceToken() == token && lockName.equals(e.kv().fenceLock())
            ? new Leader(e.kv().valueAsString(), token, session) : Leader.NONE;
      } else if (e.kind() == WatchEvent.Kind.KEY_DELETED && e.key().equals(key)) {
        now = Leader.NONE;
      }
    }
    if (!now.equals(current)) {
      observer.accept(now);
    }
    grantSession = session;
    grantToken = token;
    current = now;
  }
}
