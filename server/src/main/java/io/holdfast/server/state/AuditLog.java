package io.holdfast.server.state;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/** The newest audit entries, bounded; part of the replicated state. */
final class AuditLog {
  static final int CAPACITY = 1_000;

  private final ArrayDeque<AuditEntry> entries = new ArrayDeque<>();

  void add(AuditEntry e) {
    entries.addLast(e);
    while (entries.size() > CAPACITY) {
      entries.removeFirst();
    }
  }

  /**
   * Entries with index &gt; {@code afterIndex}, for {@code lockName} ("" for all), oldest first. A
   * session's entry that names only its first locks (in name order) is included for a name past
   * the last it lists: it may have freed that lock too.
   */
  List<AuditEntry> since(long afterIndex, String lockName, int limit) {
    List<AuditEntry> out = new ArrayList<>();
    for (AuditEntry e : entries) {
      if (e.index() > afterIndex && (lockName.isEmpty() || e.lockName().equals(lockName)
          || e.locks().contains(lockName) || mayHaveFreed(e, lockName))) {
        out.add(e);
      }
    }
    return out.size() > limit ? out.subList(out.size() - limit, out.size()) : out;
  }

  private static boolean mayHaveFreed(AuditEntry e, String lockName) {
    return e.locksNotListed() > 0 && !e.locks().isEmpty()
        && lockName.compareTo(e.locks().get(e.locks().size() - 1)) > 0;
  }

  /** Whether every entry from revision {@code index} on is still here: none has been dropped since. */
  boolean reachesBack(long index) {
    return entries.size() < CAPACITY || entries.peekFirst().index() <= index;
  }

  /** Whether an entry records grant {@code token} of {@code lockName} taken from its holder. */
  boolean recordsLossOf(String lockName, long token) {
    for (AuditEntry e : entries) {
      if (e.token() == token && e.lockName().equals(lockName)) {
        return true;
      }
    }
    return false;
  }

  List<AuditEntry> all() {
    return List.copyOf(entries);
  }

  void clear() {
    entries.clear();
  }
}
