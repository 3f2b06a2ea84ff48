package io.holdfast.server.statemachine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.InvalidProtocolBufferException;
import io.holdfast.server.state.ClientInfo;
import io.holdfast.server.state.Command;
import io.holdfast.server.state.LogEntry;
import org.apache.ratis.proto.RaftProtos.LogEntryProto;
import org.apache.ratis.proto.RaftProtos.StateMachineLogEntryProto;
import org.apache.ratis.statemachine.TransactionContext;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.junit.jupiter.api.Test;

/**
 * An entry this build cannot apply the way the other members do (a newer leader's) stops the node
 * instead of being skipped or applied under older rules; and a leader never logs a command no
 * build could decode, since that would stop every member.
 */
class UnappliableEntryTest {
  static LogEntryProto entry(long index, byte[] data) {
    return LogEntryProto.newBuilder().setIndex(index).setTerm(1)
        .setStateMachineLogEntry(StateMachineLogEntryProto.newBuilder().setLogData(ByteString.copyFrom(data)))
        .build();
  }

  static void apply(HoldfastStateMachine sm, LogEntryProto e) {
    sm.applyTransaction(TransactionContext.newBuilder().setStateMachine(sm).setLogEntry(e).build()).join();
  }

  static byte[] open(String requestId) {
    return CommandCodec.encode(new Command.OpenSession(requestId, 10_000, ClientInfo.UNKNOWN), 1_000);
  }

  @Test
  void anEntryUnderNewerRulesOrOfAnUnknownKindStopsTheNodeAndChangesNothing() throws Exception {
    try (HoldfastStateMachine sm = new HoldfastStateMachine()) {
      apply(sm, entry(1, open("first")));
      assertEquals(1, (int) sm.read(s -> s.sessionCount()));

      byte[] newerRules = io.holdfast.server.statemachine.proto.Command.parseFrom(open("second")).toBuilder()
          .setApplyRules(LogEntry.RULES + 1).build().toByteArray();
      IllegalStateException e = assertThrows(IllegalStateException.class, () -> apply(sm, entry(2, newerRules)));
      assertTrue(e.getMessage().contains("log entry 2") && e.getMessage().contains("apply rules " + (LogEntry.RULES + 1))
          && e.getMessage().contains("Upgrade this node"), e.getMessage());

      // A command kind this build does not know: field 99 of the entry, a varint.
      byte[] unknownKind = concat(io.holdfast.server.statemachine.proto.Command.newBuilder().setLeaderTimeMs(1_000)
          .setApplyRules(LogEntry.RULES).build().toByteArray(), new byte[] {(byte) 0x98, 0x06, 0x01});
      e = assertThrows(IllegalStateException.class, () -> apply(sm, entry(2, unknownKind)));
      assertTrue(e.getMessage().contains("cannot decode"), e.getMessage());

      assertEquals(1, (int) sm.read(s -> s.sessionCount()), "nothing of either entry was applied");
      assertEquals(1, sm.getLastAppliedTermIndex().getIndex(), "neither counts as applied");
    }
  }

  @Test
  void theLeaderRefusesToLogACommandNoMemberCouldApply() {
    byte[] empty = io.holdfast.server.statemachine.proto.Command.newBuilder().build().toByteArray();
    assertThrows(InvalidProtocolBufferException.class, () -> CommandCodec.stamp(empty, 1, LogEntry.RULES, LogEntry.RULES));
    byte[] unknownInBatch = io.holdfast.server.statemachine.proto.Command.newBuilder()
        .setBatch(io.holdfast.server.statemachine.proto.CommandBatch.newBuilder()
            .addCommands(io.holdfast.server.statemachine.proto.Command.newBuilder().build()))
        .build().toByteArray();
    assertThrows(InvalidProtocolBufferException.class, () -> CommandCodec.stamp(unknownInBatch, 1, LogEntry.RULES, LogEntry.RULES));
  }

  /**
   * Members seeded from different restores (or with different --fencing-epoch) have the same log
   * and different states: one applying the other's leader's entries would grant tokens from the
   * wrong epoch after a failover. It stops instead; an entry from before leaders said their epoch
   * still applies.
   */
  @Test
  void anEntryFromALeaderInAnotherFencingEpochStopsTheNodeAndChangesNothing(@org.junit.jupiter.api.io.TempDir
      java.nio.file.Path dir) throws Exception {
    io.holdfast.server.state.TestLog log = new io.holdfast.server.state.TestLog();
    log.open();
    io.holdfast.server.state.StateImage seedImage = io.holdfast.server.backup.RestoreSeed.seedImage(log.state().image());
    java.nio.file.Path seed = dir.resolve("restore/seed.snapshot");
    java.nio.file.Files.createDirectories(seed.getParent());
    java.nio.file.Files.write(seed, SnapshotCodec.encode(seedImage));
    org.apache.ratis.server.storage.RaftStorage storage = TestRaftStorage.open(dir.resolve("raft"),
        org.apache.ratis.server.storage.RaftStorage.StartupOption.FORMAT);
    java.util.List<Throwable> stopped = new java.util.concurrent.CopyOnWriteArrayList<>();
    try (HoldfastStateMachine sm = new HoldfastStateMachine()) {
      sm.onUnappliable(stopped::add);
      sm.installRestoreSeedFrom(seed);
      sm.initialize(RestoreSeedInstallTest.server(), org.apache.ratis.protocol.RaftGroupId.randomId(), storage);
      long epoch = sm.read(s -> s.fencingEpoch());
      assertEquals(1, epoch);
      long next = seedImage.lastAppliedIndex() + 1;

      apply(sm, entry(next, CommandCodec.stamp(open("same-epoch"), 1_000, LogEntry.RULES, LogEntry.RULES, epoch)));
      apply(sm, entry(next + 1, open("no-epoch-said")));
      assertEquals(3, (int) sm.read(s -> s.sessionCount()));

      byte[] otherEpoch = CommandCodec.stamp(open("other-epoch"), 1_000, LogEntry.RULES, LogEntry.RULES, epoch + 1);
      IllegalStateException e = assertThrows(IllegalStateException.class, () -> apply(sm, entry(next + 2, otherEpoch)));
      assertTrue(e.getMessage().contains("fencing epoch 2 and this node's in epoch 1")
          && e.getMessage().contains("must share one epoch"), e.getMessage());
      assertEquals(1, stopped.size(), "the node is told to stop");
      // Nor does a member of the cluster the restore replaced lead it: its state is in epoch 0.
      byte[] epochZero = CommandCodec.stamp(open("old-cluster"), 1_000, LogEntry.RULES, LogEntry.RULES, 0);
      assertThrows(IllegalStateException.class, () -> apply(sm, entry(next + 2, epochZero)));
      assertEquals(3, (int) sm.read(s -> s.sessionCount()), "nothing of either was applied");
      assertEquals(next + 1, sm.getLastAppliedTermIndex().getIndex());
    }
    storage.close();
  }

  @Test
  void olderRulesStillReplay() throws Exception {
    try (HoldfastStateMachine sm = new HoldfastStateMachine()) {
      byte[] rulesZero = io.holdfast.server.statemachine.proto.Command.parseFrom(open("old")).toBuilder()
          .setApplyRules(0).build().toByteArray();
      apply(sm, entry(1, rulesZero));
      assertEquals(1, (int) sm.read(s -> s.sessionCount()));
    }
  }

  static byte[] concat(byte[] a, byte[] b) {
    byte[] out = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
