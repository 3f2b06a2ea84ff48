package io.holdfast.server.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.proto.v1.LockInfo;
import io.holdfast.server.state.Command;
import io.holdfast.server.state.Result;
import io.holdfast.server.state.TestLog;
import org.junit.jupiter.api.Test;

/** What a lock's view carries: a busy lock's queue must not make every answer about it huge. */
class ProtoViewsTest {
  @Test
  void waitersAreListedWithoutLabelsAndAnAcquiresAnswerLeavesThemOut() {
    TestLog log = new TestLog();
    long holder = ((Result.SessionOpened) log.apply(new Command.OpenSession("o1", 10_000, TestLog.CLIENT))).sessionId();
    long waiter = ((Result.SessionOpened) log.apply(new Command.OpenSession("o2", 10_000, TestLog.CLIENT))).sessionId();
    assertInstanceOf(Result.Granted.class, log.apply(new Command.Acquire("a1", holder, "fleet/config", 0)));
    assertInstanceOf(Result.Queued.class, log.apply(new Command.Acquire("a2", waiter, "fleet/config", 60_000)));

    LockInfo described = ProtoViews.lockInfo(log.state(), "fleet/config");
    assertEquals(1, described.getWaitersCount());
    assertEquals(waiter, described.getWaiters(0).getSessionId());
    assertEquals(TestLog.CLIENT.name(), described.getWaiters(0).getClient().getName());
    assertEquals(TestLog.CLIENT.pid(), described.getWaiters(0).getClient().getPid());
    assertTrue(described.getWaiters(0).getClient().getLabelsMap().isEmpty(), "a waiter's labels are in its session");
    assertEquals(TestLog.CLIENT.labels(), described.getHolder().getLabelsMap(), "the holder's are shown");

    LockInfo answered = ProtoViews.lockInfo(log.state(), "fleet/config", false);
    assertEquals(0, answered.getWaitersCount());
    assertEquals(holder, answered.getHolderSessionId());
    assertEquals(described.getToken(), answered.getToken());
  }
}
