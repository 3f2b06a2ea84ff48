package io.holdfast.server.raft;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.server.state.Command;
import io.holdfast.server.state.TestLog;
import org.junit.jupiter.api.Test;

class BatchHintsTest {
  private final TestLog log = new TestLog();

  private Command.Acquire acquire(long session, String lock, long waitMs) {
    return new Command.Acquire(log.newRequestId(), session, lock, waitMs);
  }

  @Test
  void anAcquireWaitsBehindOthersOnlyWhereSomeoneElseAlreadyWaits() {
    long holder = log.open();
    long first = log.open();
    long late = log.open();
    assertFalse(BatchHints.waitsBehindOthers(log.state(), acquire(late, "cfg", -1)), "a free lock is granted at once");

    long token = log.acquireFree(holder, "cfg");
    assertFalse(BatchHints.waitsBehindOthers(log.state(), acquire(first, "cfg", -1)),
        "the first waiter is granted by the holder's release: it must go out with it, not after");

    log.acquire(log.newRequestId(), first, "cfg", -1);
    assertTrue(BatchHints.waitsBehindOthers(log.state(), acquire(late, "cfg", -1)));
    assertTrue(BatchHints.waitsBehindOthers(log.state(), acquire(late, "cfg", 5_000)));
    assertFalse(BatchHints.waitsBehindOthers(log.state(), acquire(late, "cfg", 0)), "a try-lock is answered at once");
    assertFalse(BatchHints.waitsBehindOthers(log.state(), acquire(late, "cfg", 200)),
        "a short timed wait would spend its budget in the linger");
    assertFalse(BatchHints.waitsBehindOthers(log.state(), acquire(holder, "cfg", -1)),
        "the holder's own acquire gets its token back at once");
    assertFalse(BatchHints.waitsBehindOthers(log.state(), acquire(late, "other", -1)));
    assertFalse(BatchHints.waitsBehindOthers(log.state(), new Command.Release("r", holder, "cfg", token)));

    assertTrue(BatchHints.handsOver(log.state(), new Command.Release("r", holder, "cfg", token)));
    log.release(holder, "cfg", token);
    assertFalse(BatchHints.waitsBehindOthers(log.state(), acquire(late, "cfg", -1)),
        "the waiter now holds it and nobody waits: the next acquire is the first waiter again");
  }

  @Test
  void aReleaseHandsOverOnlyWhenSomeoneWaits() {
    long holder = log.open();
    long token = log.acquireFree(holder, "cfg");
    assertFalse(BatchHints.handsOver(log.state(), new Command.Release("r1", holder, "cfg", token)));
    assertFalse(BatchHints.handsOver(log.state(), new Command.Release("r2", holder, "unknown", token)));
    assertFalse(BatchHints.handsOver(log.state(), acquire(holder, "cfg", -1)));
  }
}
