package io.holdfast.server.statemachine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.InvalidProtocolBufferException;
import io.holdfast.server.state.ClientInfo;
import io.holdfast.server.state.Command;
import io.holdfast.server.state.LogEntry;
import io.holdfast.server.state.Result;
import io.holdfast.server.state.StateImage;
import io.holdfast.server.state.TestLog;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.server.storage.RaftStorage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The cluster's apply rules as the log carries them: raised by an entry, never lowered, kept in
 * snapshots, written into every new entry by the leader, and refused by a build that does not
 * know them.
 */
class ApplyRulesTest {
  @TempDir
  Path dir;

  private static byte[] entryData(Command c) {
    return CommandCodec.encode(c, 1_000);
  }

  /** As a leader of a cluster still at the first negotiated rules logs it. */
  private static Result apply(HoldfastStateMachine sm, long index, Command c) throws Exception {
    byte[] logged = CommandCodec.stamp(entryData(c), 1_000, LogEntry.NEGOTIATED_FROM, LogEntry.RULES);
    var done = sm.applyTransaction(org.apache.ratis.statemachine.TransactionContext.newBuilder().setStateMachine(sm)
        .setLogEntry(UnappliableEntryTest.entry(index, logged)).build()).join();
    return ResultCodec.decode(done.getContent().toByteArray());
  }

  @Test
  void aNewClusterWritesTheRulesNegotiationStartedFromWhateverItsBuildKnows() throws Exception {
    try (HoldfastStateMachine sm = new HoldfastStateMachine(LogEntry.NEGOTIATED_FROM + 1)) {
      assertEquals(LogEntry.NEGOTIATED_FROM, sm.writeRules());
      byte[] stamped = CommandCodec.stamp(entryData(new Command.CloseSession("c", 1)), 5, sm.writeRules(),
          sm.supportedRules());
      assertEquals(LogEntry.NEGOTIATED_FROM, CommandCodec.decode(stamped).applyRules(),
          "a newer leader writes the cluster's rules, not its own");
    }
  }

  @Test
  void aRaiseTakesEffectForLaterEntriesAndIsNeverUndone() throws Exception {
    int newer = LogEntry.NEGOTIATED_FROM + 1;
    try (HoldfastStateMachine sm = new HoldfastStateMachine(newer)) {
      assertEquals(new Result.ApplyRulesRaised(newer), apply(sm, 1, new Command.RaiseApplyRules(newer)));
      assertEquals(newer, sm.writeRules());
      assertEquals(newer, CommandCodec.decode(CommandCodec.stamp(entryData(new Command.CloseSession("c", 1)), 5,
          sm.writeRules(), sm.supportedRules())).applyRules());

      // A stale raise (say, a slow leader's from before) does not lower them.
      assertEquals(new Result.ApplyRulesRaised(newer),
          apply(sm, 2, new Command.RaiseApplyRules(LogEntry.NEGOTIATED_FROM)));
      assertEquals(newer, sm.writeRules());
      // Inside a batch too.
      apply(sm, 3, new Command.Batch(List.of(new Command.CloseSession("x", 9), new Command.RaiseApplyRules(1))));
      assertEquals(newer, sm.writeRules());
      assertEquals(newer, (int) sm.read(s -> s.clusterRules()));
    }
  }

  @Test
  void theRulesSurviveASnapshotAndAnOlderSnapshotMeansTheFirstNegotiatedRules() throws Exception {
    TestLog log = new TestLog();
    log.open();
    log.apply(new Command.RaiseApplyRules(7));
    StateImage image = log.state().image();
    assertEquals(7, image.clusterRules());
    assertEquals(7, SnapshotCodec.decode(SnapshotCodec.encode(image)).clusterRules());

    // A snapshot written before the field existed.
    byte[] old = io.holdfast.server.statemachine.proto.Snapshot.parseFrom(SnapshotCodec.encode(image)).toBuilder()
        .clearClusterRules().build().toByteArray();
    assertEquals(LogEntry.NEGOTIATED_FROM, SnapshotCodec.decode(old).clusterRules());
  }

  @Test
  void aBuildThatDoesNotKnowTheRaisedRulesStopsAtTheRaiseAndChangesNothing() throws Exception {
    AtomicReference<Throwable> stopped = new AtomicReference<>();
    try (HoldfastStateMachine sm = new HoldfastStateMachine(LogEntry.NEGOTIATED_FROM)) {
      sm.onUnappliable(stopped::set);
      apply(sm, 1, new Command.OpenSession("o", 10_000, ClientInfo.UNKNOWN));
      IllegalStateException e = assertThrows(IllegalStateException.class,
          () -> apply(sm, 2, new Command.Batch(List.of(new Command.OpenSession("p", 10_000, ClientInfo.UNKNOWN),
              new Command.RaiseApplyRules(LogEntry.NEGOTIATED_FROM + 1)))));
      assertTrue(e.getMessage().contains("raises the cluster's apply rules to " + (LogEntry.NEGOTIATED_FROM + 1)),
          e.getMessage());
      assertEquals(e, stopped.get(), "the node is told to stop");
      assertEquals(1, (int) sm.read(s -> s.sessionCount()), "nothing of the entry was applied");
      assertEquals(LogEntry.NEGOTIATED_FROM, sm.writeRules());
    }
  }

  @Test
  void aLeaderRefusesToLogARaiseBeyondWhatItKnows() {
    byte[] raise = entryData(new Command.RaiseApplyRules(LogEntry.RULES + 5));
    InvalidProtocolBufferException e = assertThrows(InvalidProtocolBufferException.class,
        () -> CommandCodec.stamp(raise, 1, LogEntry.RULES, LogEntry.RULES));
    assertTrue(e.getMessage().contains("cannot raise the apply rules to " + (LogEntry.RULES + 5)), e.getMessage());
  }

  @Test
  void aNodeWhoseBuildIsOlderThanTheClustersRulesRefusesToStartFromItsSnapshot() throws Exception {
    TestLog log = new TestLog();
    log.open();
    log.apply(new Command.RaiseApplyRules(LogEntry.RULES + 1));
    Path seed = dir.resolve("restore/seed.snapshot");
    Files.createDirectories(seed.getParent());
    Files.write(seed, SnapshotCodec.encode(log.state().image()));
    RaftStorage storage = TestRaftStorage.open(dir.resolve("raft"), RaftStorage.StartupOption.FORMAT);
    AtomicReference<Throwable> stopped = new AtomicReference<>();
    try (HoldfastStateMachine sm = new HoldfastStateMachine()) {
      sm.onUnappliable(stopped::set);
      sm.installRestoreSeedFrom(seed);
      Exception e = assertThrows(Exception.class,
          () -> sm.initialize(RestoreSeedInstallTest.server(), RaftGroupId.randomId(), storage));
      Throwable cause = e;
      while (!(cause instanceof IOException) && cause.getCause() != null) {
        cause = cause.getCause();
      }
      assertTrue(cause.getMessage().contains("writes apply rules " + (LogEntry.RULES + 1))
          && cause.getMessage().contains("Upgrade this node"), cause.getMessage());
      assertTrue(stopped.get() != null, "the node is told to stop");
    } finally {
      storage.close();
    }
  }
}
