package io.holdfast.client;

import java.util.List;

/**
 * The matching events of one log entry, at revision {@code index} (the entry's last); or, with {@code snapshot}, the
 * current state (held locks as LOCK_ACQUIRED, keys as KEY_PUT) as of {@code index}, sent when a
 * watch starts fresh or resumes after the events it needed were compacted away.
 */
public record WatchBatch(long index, boolean snapshot, List<WatchEvent> events) {
  public WatchBatch {
    events = List.copyOf(events);
  }
}
