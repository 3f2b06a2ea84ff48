package io.holdfast.client.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.holdfast.client.KeyValue;
import io.holdfast.client.Leader;
import io.holdfast.client.WatchBatch;
import io.holdfast.client.WatchEvent;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class LeaderTrackerTest {
  static final String LOCK = "orchestrators/eu";
  static final String KEY = LOCK + "/leader";

  static WatchEvent granted(long session, long token) {
    return new WatchEvent(WatchEvent.Kind.LOCK_ACQUIRED, LOCK, session, token, "", "", null);
  }

  static WatchEvent released(long session, long token, String reason) {
    return new WatchEvent(WatchEvent.Kind.LOCK_RELEASED, LOCK, session, token, reason, "", null);
  }

  static WatchEvent announced(String value, long fenceToken, long revision) {
    return new WatchEvent(WatchEvent.Kind.KEY_PUT, "", 0, 0, "", KEY, new KeyValue(KEY,
        value.getBytes(StandardCharsets.UTF_8), revision, revision, LOCK, fenceToken, Instant.EPOCH));
  }

  @Test
  void anAnnouncementCountsOnlyUnderTheCurrentGrant() {
    LeaderTracker t = new LeaderTracker(LOCK, KEY);
    assertEquals(Leader.NONE, t.onBatch(new WatchBatch(3, true, List.of())));
    assertNull(t.onBatch(new WatchBatch(5, false, List.of(granted(11, 5)))), "granted, not yet announced");
    assertEquals(new Leader("a", 5, 11), t.onBatch(new WatchBatch(6, false, List.of(announced("a", 5, 6)))));
    assertEquals(Leader.NONE, t.onBatch(new WatchBatch(9, false, List.of(released(11, 5, "EXPIRED")))));
    assertNull(t.onBatch(new WatchBatch(10, false, List.of(announced("stale", 5, 10)))), "a gone leader's write");
  }

  /** An announcement fenced by another lock's token is not the leader's, whatever the number. */
  @Test
  void anAnnouncementFencedByAnotherLockDoesNotCount() {
    LeaderTracker t = new LeaderTracker(LOCK, KEY);
    t.onBatch(new WatchBatch(3, true, List.of()));
    t.onBatch(new WatchBatch(5, false, List.of(granted(11, 5))));
    WatchEvent otherLock = new WatchEvent(WatchEvent.Kind.KEY_PUT, "", 0, 0, "", KEY, new KeyValue(KEY,
        "impostor".getBytes(StandardCharsets.UTF_8), 6, 6, "some/other/lock", 5, Instant.EPOCH));
    assertNull(t.onBatch(new WatchBatch(6, false, List.of(otherLock))), "still nobody announced");
    assertEquals(new Leader("a", 5, 11), t.onBatch(new WatchBatch(7, false, List.of(announced("a", 5, 7)))));
  }

  @Test
  void aResumeThatGetsASnapshotForgetsAGrantTheSnapshotDoesNotList() {
    LeaderTracker t = new LeaderTracker(LOCK, KEY);
    t.onBatch(new WatchBatch(3, true, List.of()));
    t.onBatch(new WatchBatch(5, false, List.of(granted(11, 5))));
    assertEquals(new Leader("a", 5, 11), t.onBatch(new WatchBatch(6, false, List.of(announced("a", 5, 6)))));
    // The stream broke; meanwhile the holder's session expired, and the events fell out of the
    // history: the resume is a snapshot with the announcement still there and no holder.
    assertEquals(Leader.NONE, t.onBatch(new WatchBatch(40, true, List.of(announced("a", 5, 6)))));
    // A snapshot with a new holder that has announced itself.
    assertEquals(new Leader("b", 41, 12), t.onBatch(new WatchBatch(42, true,
        List.of(granted(12, 41), announced("b", 41, 42)))));
    // And one that still shows the same leader changes nothing.
    assertNull(t.onBatch(new WatchBatch(50, true, List.of(granted(12, 41), announced("b", 41, 42)))));
  }

  @Test
  void aChangeTheObserverThrewOnIsReportedAgainWhenTheBatchComesAgain() {
    LeaderTracker t = new LeaderTracker(LOCK, KEY);
    t.onBatch(new WatchBatch(3, true, List.of()));
    t.onBatch(new WatchBatch(5, false, List.of(granted(11, 5))));
    WatchBatch announcement = new WatchBatch(6, false, List.of(announced("a", 5, 6)));
    assertThrows(IllegalStateException.class, () -> t.onBatch(announcement, leader -> {
      throw new IllegalStateException("the observer failed");
    }));
    // The watch resumes before the batch and gives it again.
    assertEquals(new Leader("a", 5, 11), t.onBatch(announcement));
  }
}
