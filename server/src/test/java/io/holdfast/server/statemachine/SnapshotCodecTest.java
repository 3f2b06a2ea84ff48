package io.holdfast.server.statemachine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.InvalidProtocolBufferException;
import io.holdfast.server.state.Command.Acquire;
import io.holdfast.server.state.Command.Release;
import io.holdfast.server.state.HoldfastState;
import io.holdfast.server.state.LogEntry;
import io.holdfast.server.state.RandomCommandLog;
import io.holdfast.server.state.RandomCommandLog.Generated;
import io.holdfast.server.state.RandomCommandLog.Step;
import io.holdfast.server.state.Result;
import io.holdfast.server.state.StateEvent;
import io.holdfast.server.state.StateImage;
import io.holdfast.server.state.TestLog;
import io.holdfast.server.statemachine.proto.Snapshot;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SnapshotCodecTest {

  private static HoldfastState restored(byte[] snapshot) throws InvalidProtocolBufferException {
    HoldfastState s = new HoldfastState();
    s.restore(SnapshotCodec.decode(snapshot));
    return s;
  }

  /** A file cut short at a field boundary still parses; what its format promises is checked. */
  @Test
  void aSnapshotMissingWhatItsFormatPromisesIsRefused() throws Exception {
    TestLog log = new TestLog();
    log.open();
    Snapshot valid = Snapshot.parseFrom(SnapshotCodec.encode(log.state().image()));
    byte[] noEpoch = valid.toBuilder().setFormatVersion(SnapshotCodec.FORMAT_WITH_EPOCH).clearFencingEpoch().build()
        .toByteArray();
    assertTrue(assertThrows(InvalidProtocolBufferException.class, () -> SnapshotCodec.decode(noEpoch)).getMessage()
        .contains("fencing epoch above 0"));
    byte[] noRevision = valid.toBuilder().setFormatVersion(SnapshotCodec.FORMAT_VERSION).setFencingEpoch(3)
        .clearLastRevision().build().toByteArray();
    assertTrue(assertThrows(InvalidProtocolBufferException.class, () -> SnapshotCodec.decode(noRevision)).getMessage()
        .contains("last revision above"));
    assertEquals(log.state().image(), SnapshotCodec.decode(valid.toByteArray()), "the valid one still decodes");
  }

  @Test
  void emptyStateRoundTrips() throws Exception {
    byte[] bytes = SnapshotCodec.encode(new HoldfastState().image());
    assertEquals(new HoldfastState().image(), SnapshotCodec.decode(bytes));
    assertArrayEquals(bytes, SnapshotCodec.encode(restored(bytes).image()));
  }

  /** At many points of a random history: encode, decode, restore, encode again: same bytes. */
  @ParameterizedTest
  @ValueSource(longs = {2, 17})
  void decodeRestoreAndReencodeGivesTheSameBytes(long seed) throws Exception {
    Generated log = RandomCommandLog.generate(seed, 2_000);
    HoldfastState state = new HoldfastState();
    int n = 0;
    int withWaiters = 0;
    for (Step step : log.steps()) {
      state.apply(step.entry(), e -> { });
      if (++n % 100 != 0) {
        continue;
      }
      StateImage image = state.image();
      byte[] bytes = SnapshotCodec.encode(image);
      StateImage decoded = SnapshotCodec.decode(bytes);
      assertEquals(image, decoded, "decoded image at " + step.entry());
      HoldfastState copy = new HoldfastState();
      copy.restore(decoded);
      assertEquals(image, copy.image(), "restored image at " + step.entry());
      assertArrayEquals(bytes, SnapshotCodec.encode(copy.image()));
      if (image.locks().stream().anyMatch(l -> !l.waiters().isEmpty())) {
        withWaiters++;
      }
    }
    assertTrue(withWaiters > 0, "some snapshots hold queued waiters");
  }

  /**
   * A replica restored from a snapshot taken mid-history and the replica that kept applying give
   * the same results and events for the rest of the log, and end byte-identical.
   */
  @ParameterizedTest
  @ValueSource(ints = {1, 400, 1_500, 2_999})
  void restoredReplicaContinuesExactlyAsTheOriginal(int split) throws Exception {
    Generated log = RandomCommandLog.generate(31, 3_000);
    HoldfastState original = new HoldfastState();
    for (Step step : log.steps().subList(0, split)) {
      original.apply(step.entry(), e -> { });
    }
    HoldfastState copy = restored(SnapshotCodec.encode(original.image()));
    assertEquals(original.lastAppliedIndex(), copy.lastAppliedIndex());

    for (Step step : log.steps().subList(split, log.steps().size())) {
      LogEntry e = step.entry();
      List<StateEvent> ev1 = new ArrayList<>();
      List<StateEvent> ev2 = new ArrayList<>();
      Result r1 = original.apply(e, ev1::add);
      Result r2 = copy.apply(e, ev2::add);
      assertEquals(r1, r2, "at " + e);
      assertEquals(ev1, ev2, "at " + e);
    }
    assertArrayEquals(log.finalSnapshot(), SnapshotCodec.encode(copy.image()));
  }

  @Test
  void restoredStateKeepsWaiterDeadlinesRequestCachesAndQueues() throws Exception {
    TestLog log = new TestLog();
    long a = log.open();
    long b = log.open();
    long c = log.open();
    long token = log.acquireFree(a, "x");
    Release firstRelease = new Release("a-rel", a, "x", token);
    log.apply(firstRelease);
    token = log.acquireFree(a, "x");
    log.acquire("b-x", b, "x", 1_000);
    log.acquire("c-x", c, "x", -1);

    TestLog copy = log.continueOn(restored(log.snapshot()));

    for (TestLog t : List.of(log, copy)) {
      // The cached release answers a retry; the queue and its places survive.
      assertEquals(new Result.Released(0), t.apply(firstRelease));
      assertEquals(a, t.state().lock("x").holderSessionId());
      assertEquals(new Result.Queued(2), t.apply(new Acquire("c-x", c, "x", -1)));
      // b's backstop deadline still fires.
      t.advanceMs(1_000 + 5_000 + 1);
      assertEquals(List.of(c), t.waiterSessions("x"), "b timed out");
      assertEquals(new Result.Released(c), t.release(a, "x", token));
    }
    assertArrayEquals(log.snapshot(), copy.snapshot());
  }

  @Test
  void restoreReplacesWhateverTheStateHeldBefore() throws Exception {
    TestLog source = new TestLog();
    long a = source.open();
    source.acquireFree(a, "x");
    byte[] bytes = source.snapshot();

    TestLog other = new TestLog();
    for (int i = 0; i < 5; i++) {
      long s = other.open();
      other.acquireFree(s, "lock-" + i);
      other.acquire("q", s, "x", 2_000);
    }
    other.state().restore(SnapshotCodec.decode(bytes));

    assertArrayEquals(bytes, SnapshotCodec.encode(other.state().image()));
    assertEquals(1, other.state().sessionCount());
    assertEquals(List.of("x"), other.state().heldLocks(a));
  }

  @Test
  void snapshotOfAnotherFormatVersionIsRefused() {
    byte[] future = Snapshot.newBuilder().setFormatVersion(SnapshotCodec.FORMAT_VERSION + 1)
        .setLastAppliedIndex(10).build().toByteArray();
    InvalidProtocolBufferException e =
        assertThrows(InvalidProtocolBufferException.class, () -> SnapshotCodec.decode(future));
    assertTrue(e.getMessage().contains("format"), e.getMessage());
  }

  @Test
  void garbageIsRefused() {
    assertThrows(InvalidProtocolBufferException.class,
        () -> SnapshotCodec.decode(new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff}));
  }
}
