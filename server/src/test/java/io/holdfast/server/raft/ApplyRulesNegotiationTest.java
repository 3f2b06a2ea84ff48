package io.holdfast.server.raft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.server.state.Command;
import io.holdfast.server.state.LogEntry;
import io.holdfast.server.state.Result;
import io.holdfast.server.statemachine.HoldfastStateMachine;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.RaftConfiguration;
import org.junit.jupiter.api.Test;

/**
 * The leader raises the cluster's apply rules only when every voter says it knows them, counts a
 * silent voter as knowing the first negotiated rules, and asks nobody when there is nothing to raise.
 */
class ApplyRulesNegotiationTest {
  static final int NEWER = LogEntry.NEGOTIATED_FROM + 1;

  static RaftPeer peer(String id) {
    return RaftPeer.newBuilder().setId(id).setAddress("127.0.0.1:1").build();
  }

  static RaftConfiguration conf(List<RaftPeer> current, List<RaftPeer> previous) {
    return new RaftConfiguration() {
      @Override
      public RaftPeer getPeer(RaftPeerId id, RaftPeerRole... roles) {
        return current.stream().filter(p -> p.getId().equals(id)).findFirst().orElse(null);
      }

      @Override
      public Collection<RaftPeer> getAllPeers(RaftPeerRole role) {
        return role == RaftPeerRole.FOLLOWER ? current : List.of();
      }

      @Override
      public Collection<RaftPeer> getCurrentPeers(RaftPeerRole role) {
        return role == RaftPeerRole.FOLLOWER ? current : List.of();
      }

      @Override
      public Collection<RaftPeer> getPreviousPeers(RaftPeerRole role) {
        return role == RaftPeerRole.FOLLOWER ? previous : List.of();
      }

      @Override
      public long getLogEntryIndex() {
        return 1;
      }
    };
  }

  /** A leader n1 whose submissions are recorded, not applied. */
  static final class FakeNode implements ApplyRulesNegotiation.Node {
    final HoldfastStateMachine sm;
    volatile boolean leader = true;
    volatile RaftConfiguration conf;
    final List<Command> submitted = new ArrayList<>();

    FakeNode(HoldfastStateMachine sm, RaftConfiguration conf) {
      this.sm = sm;
      this.conf = conf;
    }

    @Override
    public boolean isLeader() {
      return leader;
    }

    @Override
    public RaftPeerId selfId() {
      return RaftPeerId.valueOf("n1");
    }

    @Override
    public RaftConfiguration configuration() {
      return conf;
    }

    /** When set, submissions stay pending on it (a raise not yet committed). */
    volatile CompletableFuture<Result> pending;

    @Override
    public synchronized CompletableFuture<Result> submit(Command command) {
      submitted.add(command);
      CompletableFuture<Result> p = pending;
      return p != null ? p
          : CompletableFuture.completedFuture(new Result.ApplyRulesRaised(((Command.RaiseApplyRules) command).rules()));
    }

    /** As RaftNode: a member change and a raise exclude each other. */
    final java.util.concurrent.atomic.AtomicReference<String> busy = new java.util.concurrent.atomic.AtomicReference<>();

    @Override
    public Runnable beginRaise() {
      return busy.compareAndSet(null, "raise") ? () -> busy.compareAndSet("raise", null) : null;
    }
  }

  static Function<RaftPeer, CompletableFuture<Integer>> answers(Map<String, Integer> said, List<String> asked) {
    return p -> {
      asked.add(p.getId().toString());
      Integer rules = said.get(p.getId().toString());
      return rules == null ? CompletableFuture.failedFuture(new java.io.IOException("no answer"))
          : CompletableFuture.completedFuture(rules);
    };
  }

  @Test
  void everyVoterKnowingNewerRulesRaisesThemOnce() throws Exception {
    try (HoldfastStateMachine sm = new HoldfastStateMachine(NEWER)) {
      FakeNode node = new FakeNode(sm, conf(List.of(peer("n1"), peer("n2"), peer("n3")), List.of()));
      List<String> asked = new ArrayList<>();
      ApplyRulesNegotiation n = new ApplyRulesNegotiation(node, sm, answers(Map.of("n2", NEWER, "n3", NEWER + 4), asked));
      assertEquals(NEWER, n.check().join(), "the lowest of what the voters and this build know");
      assertEquals(List.of(new Command.RaiseApplyRules(NEWER)), node.submitted);
      assertEquals(List.of("n2", "n3"), asked, "every other voter is asked; the leader knows its own build");
      assertEquals(Map.of(RaftPeerId.valueOf("n1"), NEWER, RaftPeerId.valueOf("n2"), NEWER,
          RaftPeerId.valueOf("n3"), NEWER + 4), n.lastAnswers());
    }
  }

  @Test
  void oneVoterOnAnOlderBuildOrSilentKeepsTheRules() throws Exception {
    try (HoldfastStateMachine sm = new HoldfastStateMachine(NEWER)) {
      FakeNode node = new FakeNode(sm, conf(List.of(peer("n1"), peer("n2"), peer("n3")), List.of()));
      List<String> asked = new ArrayList<>();
      Map<String, Integer> said = new ConcurrentHashMap<>(Map.of("n2", NEWER, "n3", LogEntry.NEGOTIATED_FROM));
      assertEquals(0, new ApplyRulesNegotiation(node, sm, answers(said, asked)).check().join());
      said.remove("n3");  // down, unreachable, or a build that does not know the question
      assertEquals(0, new ApplyRulesNegotiation(node, sm, answers(said, asked)).check().join());
      assertTrue(node.submitted.isEmpty(), "nothing raised: " + node.submitted);
      assertEquals(4, asked.size(), "asked each time: " + asked);
    }
  }

  @Test
  void whileTheMembershipChangesTheVotersOfBothConfigurationsMustKnowThem() throws Exception {
    try (HoldfastStateMachine sm = new HoldfastStateMachine(NEWER)) {
      FakeNode node = new FakeNode(sm, conf(List.of(peer("n1"), peer("n2"), peer("n4")),
          List.of(peer("n1"), peer("n2"), peer("n3"))));
      List<String> asked = new ArrayList<>();
      ApplyRulesNegotiation n = new ApplyRulesNegotiation(node, sm,
          answers(Map.of("n2", NEWER, "n4", NEWER, "n3", LogEntry.NEGOTIATED_FROM), asked));
      assertEquals(0, n.check().join(), "n3, leaving, still applies entries until the change commits");
      assertTrue(asked.contains("n3") && asked.contains("n4"), asked.toString());
    }
  }

  @Test
  void nobodyIsAskedWhenThereIsNothingToRaiseOrThisNodeDoesNotLead() throws Exception {
    List<String> asked = new ArrayList<>();
    Function<RaftPeer, CompletableFuture<Integer>> ask = answers(Map.of("n2", NEWER + 1, "n3", NEWER + 1), asked);
    RaftConfiguration three = conf(List.of(peer("n1"), peer("n2"), peer("n3")), List.of());
    try (HoldfastStateMachine current = new HoldfastStateMachine(LogEntry.NEGOTIATED_FROM)) {
      FakeNode node = new FakeNode(current, three);
      assertEquals(0, new ApplyRulesNegotiation(node, current, ask).check().join());
    }
    try (HoldfastStateMachine newer = new HoldfastStateMachine(NEWER)) {
      FakeNode node = new FakeNode(newer, three);
      node.leader = false;
      assertEquals(0, new ApplyRulesNegotiation(node, newer, ask).check().join());
      assertTrue(node.submitted.isEmpty());
    }
    assertTrue(asked.isEmpty(), "asked: " + asked);
  }

  @Test
  void aNodeIsAskedOnItsRaftPortAndMustBeTheOneTheConfigurationNames() throws Exception {
    org.apache.ratis.thirdparty.io.grpc.Server n2 = org.apache.ratis.thirdparty.io.grpc.netty.NettyServerBuilder
        .forPort(0).addService(BuildRulesService.definition("n2", NEWER)).build().start();
    try (HoldfastStateMachine sm = new HoldfastStateMachine(NEWER)) {
      String address = "127.0.0.1:" + n2.getPort();
      ApplyRulesNegotiation n = new ApplyRulesNegotiation(new FakeNode(sm, null), sm,
          (org.apache.ratis.grpc.GrpcTlsConfig) null);
      assertEquals(new ApplyRulesNegotiation.Known(NEWER, null),
          n.ask(RaftPeer.newBuilder().setId("n2").setAddress(address).build()).join());
      ApplyRulesNegotiation.Known wrong = n.ask(RaftPeer.newBuilder().setId("n5").setAddress(address).build()).join();
      assertEquals(LogEntry.NEGOTIATED_FROM, wrong.rules(), "another node's answer does not count");
      assertTrue(wrong.unanswered().contains("is n2, not n5"), wrong.toString());
    } finally {
      n2.shutdownNow();
    }
  }

  @Test
  void noRaiseWhileAMemberChangeIsUnderWay() throws Exception {
    try (HoldfastStateMachine sm = new HoldfastStateMachine(NEWER)) {
      FakeNode node = new FakeNode(sm, conf(List.of(peer("n1"), peer("n2"), peer("n3")), List.of()));
      List<String> asked = new ArrayList<>();
      Map<String, Integer> said = Map.of("n2", NEWER, "n3", NEWER);
      // A node being added is caught up outside the configuration: no round asks it, so none may raise.
      node.busy.set("changing members");
      assertEquals(0, new ApplyRulesNegotiation(node, sm, answers(said, asked)).check().join());
      assertTrue(node.submitted.isEmpty(), node.submitted.toString());
      node.busy.set(null);
      assertEquals(NEWER, new ApplyRulesNegotiation(node, sm, answers(said, asked)).check().join());
      assertEquals(null, node.busy.get(), "the raise let go of the leader once it was through");
    }
  }

  @Test
  void aRaiseHoldsOffMemberChangesUntilItsEntryIsSettled() throws Exception {
    try (HoldfastStateMachine sm = new HoldfastStateMachine(NEWER)) {
      FakeNode node = new FakeNode(sm, conf(List.of(peer("n1"), peer("n2"), peer("n3")), List.of()));
      node.pending = new CompletableFuture<>();
      CompletableFuture<Integer> round = new ApplyRulesNegotiation(node, sm,
          answers(Map.of("n2", NEWER, "n3", NEWER), new ArrayList<>())).check();
      long until = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
      while (node.submitted.isEmpty()) {
        assertTrue(System.nanoTime() < until, "the raise was never submitted");
        Thread.sleep(1);
      }
      assertEquals("raise", node.busy.get(), "a raise that may still commit holds the leader");
      assertTrue(!round.isDone());
      node.pending.complete(new Result.ApplyRulesRaised(NEWER));
      assertEquals(NEWER, round.join());
      assertEquals(null, node.busy.get(), "let go once its entry is settled");
    }
  }
}
