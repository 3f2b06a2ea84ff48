package io.holdfast.server.state;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import io.holdfast.server.state.Command.Put;
import io.holdfast.server.state.Command.Revoke;
import io.holdfast.server.statemachine.SnapshotCodec;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * A retried request is answered from the first attempt's result for as long as a retry can come
 * (two minutes of log time), however many other requests the cluster took meanwhile; only then,
 * or past the memory cap, is the answer dropped.
 */
class RequestRetentionTest {
  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static Put put(String requestId, String key, String value) {
    return new Put(requestId, key, bytes(value), -1, "", 0);
  }

  /** {@code n} other puts, spread evenly over {@code spanMs} of leader time. */
  private static void otherPuts(TestLog log, int n, long spanMs) {
    long start = log.timeMs();
    for (int i = 1; i <= n; i++) {
      log.applyAt(log.term(), start + spanMs * i / n, put(log.newRequestId(), "other/" + (i % 100), "v" + i));
    }
  }

  @Test
  void aKvRetryAfterMoreThanTheFloorOfOtherWritesIsAnsweredFromTheFirstAttempt() {
    TestLog log = new TestLog();
    Result first = log.apply(put("put-1", "config", "A"));
    long revision = assertInstanceOf(Result.KvWritten.class, first).revision();
    // Someone else writes the key after the first attempt; a re-applied retry would undo that.
    log.apply(put(log.newRequestId(), "config", "B"));
    otherPuts(log, HoldfastState.KV_REQUESTS * 2, 30_000);

    assertEquals(first, log.apply(put("put-1", "config", "A")), "the retry gets the first answer");
    KvEntry now = log.state().kv("config");
    assertArrayEquals(bytes("B"), now.value(), "the retry wrote nothing");
    assertNotEquals(revision, now.revision());
  }

  @Test
  void aReusedPutIdWithAnotherValueOfTheSameShortHashIsRefusedNotTakenForARetry() {
    TestLog log = new TestLog();
    // Two values of the same length and the same Arrays.hashCode: 31 * 0 + 31 == 31 * 1 + 0.
    byte[] first = {0, 31};
    byte[] other = {1, 0};
    assertEquals(java.util.Arrays.hashCode(first), java.util.Arrays.hashCode(other));
    log.apply(new Put("put-1", "config", first, -1, "", 0));
    Result again = log.apply(new Put("put-1", "config", other, -1, "", 0));
    assertEquals(ErrorCode.REQUEST_ID_REUSED, assertInstanceOf(Result.Failure.class, again).code(), again.toString());
    assertArrayEquals(first, log.state().kv("config").value());
  }

  @Test
  void aPutAppliedByAnOlderBuildIsStillMatchedByItsRetry() {
    TestLog log = new TestLog();
    Put put = put("put-1", "config", "A");
    Result first = log.apply(put);
    // The cached answer as an older build kept it: its fingerprint in the old form.
    StateImage img = log.state().image();
    java.util.List<StateImage.CachedRequest> legacy = img.kvRequests().stream()
        .map(c -> new StateImage.CachedRequest(c.requestId(), put.legacyFingerprint(), c.result(), c.atClockMs()))
        .toList();
    HoldfastState older = new HoldfastState();
    older.restore(new StateImage(img.lastAppliedIndex(), img.lastAppliedTerm(), img.clockElapsedMs(),
        img.clockLastStampMs(), img.clockLastStampTerm(), img.clockWallMs(), img.sessions(), img.locks(),
        img.recentOpens(), img.adminRequests(), img.audit(), img.kv(), legacy, img.fencingEpoch(),
        img.lastRevision(), img.clusterRules()));
    TestLog upgraded = log.continueOn(older);
    upgraded.apply(put(upgraded.newRequestId(), "config", "B"));
    assertEquals(first, upgraded.apply(put), "the retry gets the first answer");
    assertArrayEquals(bytes("B"), upgraded.state().kv("config").value(), "and writes nothing");
    Result reused = upgraded.apply(put("put-1", "config", "C"));
    assertEquals(ErrorCode.REQUEST_ID_REUSED, assertInstanceOf(Result.Failure.class, reused).code());
  }

  @Test
  void underTheOlderRulesTheSameRetryActedTwice() {
    // Entries written before rules 2 replay as they applied then: the answer fell out after
    // KV_REQUESTS other writes and the retry wrote again. This is the defect the rules fix.
    TestLog log = new TestLog();
    log.applyUnder(1, log.term(), log.timeMs(), put("put-1", "config", "A"));
    log.applyUnder(1, log.term(), log.timeMs(), put(log.newRequestId(), "config", "B"));
    for (int i = 0; i < HoldfastState.KV_REQUESTS; i++) {
      log.applyUnder(1, log.term(), log.timeMs() + 1, put(log.newRequestId(), "other/" + (i % 100), "v"));
    }
    log.applyUnder(1, log.term(), log.timeMs(), put("put-1", "config", "A"));
    assertArrayEquals(bytes("A"), log.state().kv("config").value());
  }

  @Test
  void anAnswerIsDroppedOnceItIsOlderThanTheRetentionAndAboveTheFloor() {
    TestLog log = new TestLog();
    long revision = assertInstanceOf(Result.KvWritten.class, log.apply(put("put-1", "config", "A"))).revision();
    otherPuts(log, HoldfastState.KV_REQUESTS + 10, RequestCache.RETENTION_MS + 1_000);

    Result retry = log.apply(put("put-1", "config", "A"));
    assertNotEquals(revision, assertInstanceOf(Result.KvWritten.class, retry).revision(),
        "two minutes later the id is new again");
  }

  @Test
  void theNewestFloorOfAnswersStayWhateverTheirAge() {
    TestLog log = new TestLog();
    Result first = log.apply(put("put-1", "config", "A"));
    otherPuts(log, 10, RequestCache.RETENTION_MS * 10);
    assertEquals(first, log.apply(put("put-1", "config", "A")));
  }

  @Test
  void theCapBoundsTheCacheHoweverFastWritesCome() {
    TestLog log = new TestLog();
    log.apply(put("put-1", "config", "A"));
    otherPuts(log, HoldfastState.KV_REQUESTS_CAP, 1_000);
    long before = log.state().kv("config").revision();

    Result retry = log.apply(put("put-1", "config", "A"));
    assertNotEquals(before, assertInstanceOf(Result.KvWritten.class, retry).revision(),
        "past the cap the oldest answer goes, even inside the retention");
  }

  @Test
  void aRetriedRevokeAfterMoreThanTheFloorOfAdminActionsDoesNotTakeTheLockFromTheNextHolder() {
    TestLog log = new TestLog();
    long holder = log.open();
    long next = log.open();
    log.acquireFree(holder, "L");
    log.acquire(log.newRequestId(), next, "L", -1);
    // No successor named: the lock goes to its queue, that is to `next`.
    Result first = log.apply(new Revoke("revoke-1", "L", "stuck", 0, "sre"));
    assertEquals(next, log.state().lock("L").holderSessionId());
    long nextToken = log.state().lock("L").token();
    for (int i = 0; i < HoldfastState.ADMIN_REQUESTS + 5; i++) {
      long victim = log.open();
      log.apply(new Command.AdminExpireSession(log.newRequestId(), victim, "drill", "sre"));
    }

    assertEquals(first, log.apply(new Revoke("revoke-1", "L", "stuck", 0, "sre")));
    assertEquals(next, log.state().lock("L").holderSessionId());
    assertEquals(nextToken, log.state().lock("L").token(), "the next holder keeps its grant");
  }

  @Test
  void aRestoredReplicaKeepsAndDropsTheSameAnswers() throws Exception {
    TestLog log = new TestLog();
    log.apply(put("put-1", "config", "A"));
    otherPuts(log, HoldfastState.KV_REQUESTS + 500, 60_000);
    HoldfastState restored = new HoldfastState();
    restored.restore(SnapshotCodec.decode(SnapshotCodec.encode(log.state().image())));
    TestLog replica = log.continueOn(restored);
    // The same entries from here on: past the retention the first answers go on both.
    long at = log.timeMs();
    for (int i = 1; i <= 2_000; i++) {
      Put p = put("late-" + i, "other/" + i, "v");
      log.applyAt(log.term(), at + 70_000 + i, p);
      replica.applyAt(replica.term(), at + 70_000 + i, p);
    }
    assertArrayEquals(SnapshotCodec.encode(log.state().image()), SnapshotCodec.encode(restored.image()));
  }

  /** {@code n} acquire + release pairs of session {@code s} on a lock of its own: its answers cache turns over. */
  private static void otherLockCalls(TestLog log, long s, int n) {
    for (int i = 0; i < n; i++) {
      log.release(s, "own", log.acquireFree(s, "own"));
    }
  }

  private static Command.Release resend(String requestId, long session, String lock, long token) {
    return new Command.Release(requestId, session, lock, token, true);
  }

  @Test
  void aResentReleaseWhoseAnswerWasDroppedSucceedsWhenNothingTookTheLockAway() {
    TestLog log = new TestLog();
    long s = log.open();
    long other = log.open();
    long free = log.acquireFree(s, "free-after");
    long again = log.acquireFree(s, "taken-after");
    assertInstanceOf(Result.Released.class, log.apply(new Command.Release("rel-1", s, "free-after", free)));
    assertInstanceOf(Result.Released.class, log.apply(new Command.Release("rel-2", s, "taken-after", again)));
    long next = log.acquireFree(other, "taken-after");
    otherLockCalls(log, s, SessionRecord.REQUEST_CACHE_SIZE);

    // Sent once only, the same release is refused as before: the grant is not the session's.
    failure(log.apply(new Command.Release("rel-1", s, "free-after", free)), ErrorCode.NOT_HOLDER);
    assertInstanceOf(Result.Released.class, log.apply(resend("rel-1", s, "free-after", free)));
    assertInstanceOf(Result.Released.class, log.apply(resend("rel-2", s, "taken-after", again)));
    assertEquals(other, log.state().lock("taken-after").holderSessionId(), "the new holder keeps the lock");
    assertEquals(next, log.state().lock("taken-after").token());
    assertEquals(null, log.state().lock("free-after"));
    // Under rules 2 the resend was refused: the client reported a lock it had released as lost.
    failure(log.applyUnder(2, log.term(), log.timeMs(), resend("rel-2b", s, "taken-after", again)),
        ErrorCode.NOT_HOLDER);
    assertEquals(next, log.state().lock("taken-after").token());
  }

  @Test
  void aResentReleaseOfAGrantThatWasTakenAwayIsStillRefused() {
    TestLog log = new TestLog();
    long s = log.open();
    long revoked = log.acquireFree(s, "revoked");
    assertInstanceOf(Result.Revoked.class, log.apply(new Revoke(log.newRequestId(), "revoked", "stuck", 0, "sre")));
    long held = log.acquireFree(s, "held");
    otherLockCalls(log, s, SessionRecord.REQUEST_CACHE_SIZE);

    failure(log.apply(resend("rel-r", s, "revoked", revoked)), ErrorCode.NOT_HOLDER);
    // A token not yet handed out is no earlier grant either, nor one of an epoch past any restore's.
    failure(log.apply(resend("rel-f", s, "free", log.state().lastRevision() + 5)), ErrorCode.NOT_HOLDER);
    failure(log.apply(resend("rel-e", s, "free", 0x7FFF_0000_0000_0000L)), ErrorCode.NOT_HOLDER);
    failure(log.apply(resend("rel-m", s, "free", Long.MAX_VALUE)), ErrorCode.NOT_HOLDER);
    // An older token of a lock the session holds again: whatever that grant was, it has ended, and
    // the resend leaves the session's newer grant alone.
    assertInstanceOf(Result.Released.class, log.apply(resend("rel-h", s, "held", held - 1)));
    assertEquals(held, log.state().lock("held").token());
    assertEquals(s, log.state().lock("held").holderSessionId());
  }

  @Test
  void whenTheAuditLogNoLongerReachesBackToTheGrantAResentReleaseIsRefused() {
    TestLog log = new TestLog();
    long s = log.open();
    long token = log.acquireFree(s, "L");
    assertInstanceOf(Result.Released.class, log.apply(new Command.Release("rel-1", s, "L", token)));
    long other = log.open();
    for (int i = 0; i < AuditLog.CAPACITY; i++) {
      log.acquireFree(other, "churn-" + i);
      log.apply(new Revoke(log.newRequestId(), "churn-" + i, "drill", 0, "sre"));
    }
    otherLockCalls(log, s, SessionRecord.REQUEST_CACHE_SIZE);
    // A loss of that grant might have been among the dropped records: no answer is better than a guess.
    failure(log.apply(resend("rel-1", s, "L", token)), ErrorCode.NOT_HOLDER);
  }

  private static Result.Failure failure(Result r, ErrorCode code) {
    Result.Failure f = assertInstanceOf(Result.Failure.class, r);
    assertEquals(code, f.code(), f.toString());
    return f;
  }
}
