package io.holdfast.server.state;

import static io.holdfast.server.state.TestLog.CLIENT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.server.state.Command.Acquire;
import io.holdfast.server.state.Command.CloseSession;
import io.holdfast.server.state.Command.OpenSession;
import io.holdfast.server.statemachine.SnapshotCodec;
import org.junit.jupiter.api.Test;

/**
 * The limits that depend on replicated state are enforced in apply, from the values the leader put
 * in each command: every replica refuses the same entries whatever its own configuration says.
 */
class HoldfastStateLimitsTest {
  private final TestLog log = new TestLog();
  private static final ClientInfo ALICE = CLIENT.withPrincipal("alice");
  private static final ClientInfo BOB = CLIENT.withPrincipal("bob");

  private static Result.Failure failure(Result r, ErrorCode code) {
    Result.Failure f = assertInstanceOf(Result.Failure.class, r);
    assertEquals(code, f.code(), f.message());
    return f;
  }

  private long open(String rid, ClientInfo who, long limit) {
    return ((Result.SessionOpened) log.apply(new OpenSession(rid, 10_000, who, "", limit))).sessionId();
  }

  @Test
  void sessionsPerIdentityCountLiveSessionsOfThatPrincipalOnly() {
    long a1 = open("a1", ALICE, 2);
    open("a2", ALICE, 2);
    Result.Failure f = failure(log.apply(new OpenSession("a3", 10_000, ALICE, "", 2)), ErrorCode.RESOURCE_EXHAUSTED);
    assertTrue(f.message().contains("max-sessions-per-identity"), f.message());
    open("b1", BOB, 2);
    assertEquals(Result.SessionOpened.class, log.apply(new OpenSession("a2", 10_000, ALICE, "", 2)).getClass(),
        "a retry of an open that succeeded is answered, not counted again");
    log.apply(new CloseSession("close-a1", a1));
    open("a3", ALICE, 2);
    assertEquals(3, log.state().sessionCount(), "alice twice, bob once");
  }

  @Test
  void aNewIncarnationWithTheSameExclusiveKeyDoesNotCountTwiceButAnotherPrincipalCannotTakeItOver() {
    log.apply(new OpenSession("a1", 10_000, ALICE, "alice/main", 1));
    Result second = log.apply(new OpenSession("a2", 10_000, ALICE, "alice/main", 1));
    assertInstanceOf(Result.SessionOpened.class, second, "the takeover replaces the old session");
    Result.Failure f = failure(log.apply(new OpenSession("b1", 10_000, BOB, "alice/main", 0)),
        ErrorCode.PERMISSION_DENIED);
    assertTrue(f.message().contains("another identity"), f.message());
    assertEquals(1, log.state().sessionCount());
  }

  @Test
  void locksPerSessionCountHeldAndQueued() {
    long s = open("s", ALICE, 0);
    long other = open("o", BOB, 0);
    log.apply(new Acquire("o-q", other, "q", 0));
    log.apply(new Acquire("g1", s, "a", 0, 0, 0, 2, 0));
    assertInstanceOf(Result.Queued.class, log.apply(new Acquire("w1", s, "q", 5_000, 0, 0, 2, 0)));
    Result.Failure f = failure(log.apply(new Acquire("g2", s, "b", 0, 0, 0, 2, 0)), ErrorCode.RESOURCE_EXHAUSTED);
    assertTrue(f.message().contains("max-locks-per-session"), f.message());
    assertEquals(null, log.state().lock("b"), "a refused acquire leaves no trace");
    assertInstanceOf(Result.Granted.class, log.apply(new Acquire("g1", s, "a", 0, 0, 0, 2, 0)),
        "a retry of a granted acquire still answers");
  }

  @Test
  void waitersPerLockBoundTheQueueButNotTryOnceOrGrants() {
    long holder = open("h", ALICE, 0);
    long w1 = open("w1", ALICE, 0);
    long w2 = open("w2", BOB, 0);
    log.apply(new Acquire("h", holder, "q", 0, 0, 0, 0, 1));
    assertInstanceOf(Result.Queued.class, log.apply(new Acquire("w1", w1, "q", 5_000, 0, 0, 0, 1)));
    Result.Failure f = failure(log.apply(new Acquire("w2", w2, "q", 5_000, 0, 0, 0, 1)), ErrorCode.RESOURCE_EXHAUSTED);
    assertTrue(f.message().contains("max-waiters-per-lock"), f.message());
    assertInstanceOf(Result.NotGranted.class, log.apply(new Acquire("w2-try", w2, "q", 0, 0, 0, 0, 1)));
    assertInstanceOf(Result.Granted.class, log.apply(new Acquire("w2-free", w2, "free", 5_000, 0, 0, 0, 1)));
  }

  private Result put(String rid, String key, int bytes, long maxKvBytes) {
    return log.apply(new Command.Put(rid, key, new byte[bytes], -1, "", 0, maxKvBytes));
  }

  @Test
  void theKeyValueStoreRefusesGrowthBeyondItsLimitButNotShrinkingOrDeleting() {
    long max = 100;
    assertInstanceOf(Result.KvWritten.class, put("p1", "k1", 40, max)); // 2 + 40 bytes
    assertInstanceOf(Result.KvWritten.class, put("p2", "k2", 40, max)); // 84 in all
    Result.Failure f = failure(put("p3", "k3", 20, max), ErrorCode.RESOURCE_EXHAUSTED);
    assertTrue(f.message().contains("max-kv-bytes") && f.message().contains("84"), f.message());
    assertEquals(null, log.state().kv("k3"), "a refused put leaves no trace");
    assertEquals(84, log.state().kvBytes());
    failure(put("p4", "k1", 60, max), ErrorCode.RESOURCE_EXHAUSTED); // growing a key counts its growth
    assertInstanceOf(Result.KvWritten.class, put("p5", "k1", 10, max), "a smaller rewrite is always taken");
    assertEquals(54, log.state().kvBytes());
    assertInstanceOf(Result.KvWritten.class, put("p6", "k3", 20, max), "space freed by the rewrite is usable");
    log.apply(new Command.Delete("d1", "k2", -1, "", 0));
    assertEquals(34, log.state().kvBytes(), "a delete frees its key and value");
    assertInstanceOf(Result.KvWritten.class, put("p7", "k4", 1_000, 0), "0: no limit");
    assertEquals(1_036, log.state().kvBytes());
  }

  @Test
  void theKeyValueStoresSizeIsRebuiltFromASnapshotAndTheLimitTravelsInTheLog() throws Exception {
    Command c = new Command.Put("x", "k", new byte[3], -1, "", 0, 77);
    assertEquals(77, ((Command.Put) io.holdfast.server.statemachine.CommandCodec.decode(
        io.holdfast.server.statemachine.CommandCodec.encode(c, 5)).command()).maxKvBytes());
    put("p1", "k1", 40, 100);
    put("p2", "k2", 40, 100);
    HoldfastState copy = new HoldfastState();
    copy.restore(SnapshotCodec.decode(SnapshotCodec.encode(log.state().image())));
    assertEquals(84, copy.kvBytes());
    failure(log.continueOn(copy).apply(new Command.Put("p3", "k3", new byte[20], -1, "", 0, 100)),
        ErrorCode.RESOURCE_EXHAUSTED);
  }

  @Test
  void theLimitsAndThePrincipalSurviveTheLogCodecAndSnapshots() throws Exception {
    Command c = new Acquire("x", 7, "lock/x", 100, 0, 0, 3, 4);
    byte[] bytes = io.holdfast.server.statemachine.CommandCodec.encode(c, 5);
    assertEquals(c, io.holdfast.server.statemachine.CommandCodec.decode(bytes).command());
    Command o = new OpenSession("o", 10_000, ALICE, "k", 9);
    assertEquals(o, io.holdfast.server.statemachine.CommandCodec.decode(
        io.holdfast.server.statemachine.CommandCodec.encode(o, 5)).command());
    open("p", ALICE, 0);
    HoldfastState copy = new HoldfastState();
    copy.restore(SnapshotCodec.decode(SnapshotCodec.encode(log.state().image())));
    assertArrayEquals(SnapshotCodec.encode(log.state().image()), SnapshotCodec.encode(copy.image()));
    assertEquals("alice", copy.sessions().iterator().next().client().principal());
    // The derived per-principal count is rebuilt on restore: the limit still holds there.
    TestLog after = log.continueOn(copy);
    failure(after.apply(new OpenSession("p2", 10_000, ALICE, "", 1)), ErrorCode.RESOURCE_EXHAUSTED);
  }
}
