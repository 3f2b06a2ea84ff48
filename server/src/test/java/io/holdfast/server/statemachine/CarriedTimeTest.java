package io.holdfast.server.statemachine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.server.state.ClientInfo;
import io.holdfast.server.state.Command;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.ratis.proto.RaftProtos.LogEntryProto;
import org.apache.ratis.proto.RaftProtos.StateMachineLogEntryProto;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.DivisionInfo;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.TransactionContext;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a new leader's entries carry across the failover (LogEntry#carriedMs): the time since it
 * applied the earlier terms' last entry, while it leads and until an entry of its own term is
 * applied (whether or not notifyLeaderReady has run yet), only once the cluster writes apply rules
 * 4, and nothing once the lead is lost.
 */
class CarriedTimeTest {
  @TempDir
  Path dir;

  /** A server whose one division reports {@code term} and leads. */
  static RaftServer server(AtomicLong term) {
    return server(term, new AtomicBoolean(true));
  }

  /** A server whose one division reports {@code term} and leads while {@code leads} says so. */
  static RaftServer server(AtomicLong term, AtomicBoolean leads) {
    DivisionInfo info = (DivisionInfo) Proxy.newProxyInstance(DivisionInfo.class.getClassLoader(),
        new Class<?>[] {DivisionInfo.class}, (p, m, a) -> switch (m.getName()) {
          case "getCurrentTerm" -> term.get();
          case "isLeader" -> leads.get();
          default -> null;
        });
    RaftServer.Division division = (RaftServer.Division) Proxy.newProxyInstance(
        RaftServer.Division.class.getClassLoader(), new Class<?>[] {RaftServer.Division.class},
        (p, m, a) -> m.getName().equals("getInfo") ? info : null);
    return (RaftServer) Proxy.newProxyInstance(RaftServer.class.getClassLoader(), new Class<?>[] {RaftServer.class},
        (p, m, a) -> switch (m.getName()) {
          case "getId" -> RaftPeerId.valueOf("n1");
          case "getDivision" -> division;
          default -> null;
        });
  }

  static void apply(HoldfastStateMachine sm, long index, long term, Command c) {
    LogEntryProto e = LogEntryProto.newBuilder().setIndex(index).setTerm(term)
        .setStateMachineLogEntry(StateMachineLogEntryProto.newBuilder()
            .setLogData(ByteString.copyFrom(CommandCodec.encode(c, 1_000 + index))))
        .build();
    sm.applyTransaction(TransactionContext.newBuilder().setStateMachine(sm).setLogEntry(e).build()).join();
  }

  static Command open(String id) {
    return new Command.OpenSession(id, 10_000, ClientInfo.UNKNOWN);
  }

  /** Term 1's log: the cluster raised to apply rules 4, then a session opened (indexes 1 and 2). */
  static void termOneUnderRulesFour(HoldfastStateMachine sm) {
    apply(sm, 1, 1, new Command.RaiseApplyRules(4));
    apply(sm, 2, 1, open("a"));
  }

  @Test
  void aNewLeaderCarriesTheTimeSinceItsLastApplyUntilItsOwnTermIsApplied() throws Exception {
    AtomicLong term = new AtomicLong(1);
    AtomicBoolean leads = new AtomicBoolean(false);
    RaftStorage storage = TestRaftStorage.open(dir, RaftStorage.StartupOption.FORMAT);
    try (HoldfastStateMachine sm = new HoldfastStateMachine()) {
      sm.initialize(server(term, leads), RaftGroupId.randomId(), storage);
      termOneUnderRulesFour(sm);
      assertEquals(0, sm.carriedMs(), "a follower carries nothing");
      term.set(2);
      assertEquals(0, sm.carriedMs(), "a follower in a later term carries nothing either");
      leads.set(true);
      Thread.sleep(50); // the election
      sm.notifyLeaderReady();
      long carried = sm.carriedMs();
      assertTrue(carried >= 50 && carried < 10_000, "the time since the last apply: " + carried);
      apply(sm, 3, 2, open("b"));
      assertEquals(0, sm.carriedMs(), "once this term's first entry is applied, nothing more");

      term.set(3);
      sm.notifyLeaderReady();
      leads.set(false);
      sm.notifyNotLeader(List.of());
      assertEquals(0, sm.carriedMs(), "a lost lead carries nothing");
    }
    storage.close();
  }

  /**
   * Ratis admits writes once its startup entry is applied and calls notifyLeaderReady a moment
   * later: an entry stamped in between must carry the election too, or it is lost from every TTL.
   */
  @Test
  void anEntryStampedBeforeNotifyLeaderReadyStillCarriesTheElection() throws Exception {
    AtomicLong term = new AtomicLong(1);
    RaftStorage storage = TestRaftStorage.open(dir, RaftStorage.StartupOption.FORMAT);
    try (HoldfastStateMachine sm = new HoldfastStateMachine()) {
      sm.initialize(server(term), RaftGroupId.randomId(), storage);
      termOneUnderRulesFour(sm);
      term.set(2);
      Thread.sleep(50); // the election; notifyLeaderReady has not run
      long carried = sm.carriedMs();
      assertTrue(carried >= 50 && carried < 10_000, "the time since the last apply: " + carried);
    }
    storage.close();
  }

  @Test
  void underRulesBeforeFourNothingIsCarried() throws Exception {
    AtomicLong term = new AtomicLong(1);
    RaftStorage storage = TestRaftStorage.open(dir, RaftStorage.StartupOption.FORMAT);
    try (HoldfastStateMachine sm = new HoldfastStateMachine()) {
      sm.initialize(server(term), RaftGroupId.randomId(), storage);
      apply(sm, 1, 1, open("a"));
      term.set(2);
      Thread.sleep(20);
      sm.notifyLeaderReady();
      assertEquals(0, sm.carriedMs(), "older members would ignore it; the cluster writes rules 2 until raised");
    }
    storage.close();
  }
}
