package io.holdfast.server.raft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;


import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.protocol.TermIndex;
import org.junit.jupiter.api.Test;

/**
 * Only a refused connection counts as evidence that the leader's process is gone, and the survivor
 * with the longest log tries first.
 */
class DeadLeaderDetectorTest {

  @Test
  void aListeningPortIsAlive() throws Exception {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      assertEquals(DeadLeaderDetector.Probe.ACCEPTED, DeadLeaderDetector.probe("127.0.0.1:" + s.getLocalPort()));
    }
  }

  @Test
  void aClosedPortIsRefused() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    assertEquals(DeadLeaderDetector.Probe.REFUSED, DeadLeaderDetector.probe("127.0.0.1:" + port));
  }

  @Test
  void anAddressThatCannotBeReadIsNoEvidence() {
    assertEquals(DeadLeaderDetector.Probe.NO_ANSWER, DeadLeaderDetector.probe("no-port-here"));
    assertEquals(DeadLeaderDetector.Probe.NO_ANSWER, DeadLeaderDetector.probe("127.0.0.1:notaport"));
  }

  private static RaftPeerId id(String s) {
    return RaftPeerId.valueOf(s);
  }

  @Test
  void theLongestLogGoesFirstThenTheLowestId() {
    Map<RaftPeerId, TermIndex> logs = new LinkedHashMap<>();
    logs.put(id("n1"), TermIndex.valueOf(5, 100));
    logs.put(id("n2"), TermIndex.valueOf(5, 102));
    logs.put(id("n4"), TermIndex.valueOf(5, 102));
    logs.put(id("n5"), TermIndex.valueOf(4, 300));   // a later term beats a longer older one
    assertEquals(List.of(id("n2"), id("n4"), id("n1"), id("n5")), DeadLeaderDetector.electionOrder(logs));
  }

  @Test
  void ifAnyVoterDidNotAnswerTheOrderIsByIdAlone() {
    // n3 could not ask n1, so it knows only its own log: putting the longest known log first
    // would put n3 first here and n1 first on n1, two candidates at once.
    Map<RaftPeerId, TermIndex> onN3 = new LinkedHashMap<>();
    onN3.put(id("n1"), null);
    onN3.put(id("n3"), TermIndex.valueOf(5, 102));
    assertEquals(List.of(id("n1"), id("n3")), DeadLeaderDetector.electionOrder(onN3));
  }

  @Test
  void equalLogsGoByIdSoEverySurvivorComputesTheSameOrder() {
    Map<RaftPeerId, TermIndex> a = new LinkedHashMap<>();
    a.put(id("n3"), TermIndex.valueOf(2, 7));
    a.put(id("n1"), TermIndex.valueOf(2, 7));
    Map<RaftPeerId, TermIndex> b = new LinkedHashMap<>();
    b.put(id("n1"), TermIndex.valueOf(2, 7));
    b.put(id("n3"), TermIndex.valueOf(2, 7));
    assertEquals(List.of(id("n1"), id("n3")), DeadLeaderDetector.electionOrder(a));
    assertEquals(DeadLeaderDetector.electionOrder(a), DeadLeaderDetector.electionOrder(b));
  }

  @Test
  void aLeaderIsAliveOnlyIfAnotherVoterKeepsHearingFromIt() {
    RaftPeerId leader = RaftPeerId.valueOf("n1");
    long ms = 1_000_000L;
    long cut = 5_000 * ms;
    long askedAt = cut + 45 * ms;
    var busy = new DeadLeaderDetector.Seen(new DeadLeaderDetector.PeerView(null, leader, 2), askedAt);
    assertTrue(DeadLeaderDetector.advanced(cut, busy, leader), "heard 43 ms after the cut: alive");
    var before = new DeadLeaderDetector.Seen(new DeadLeaderDetector.PeerView(null, leader, 50), askedAt);
    assertFalse(DeadLeaderDetector.advanced(cut, before, leader), "last heard 5 ms before the cut");
    var justAfter = new DeadLeaderDetector.Seen(new DeadLeaderDetector.PeerView(null, leader, 40), askedAt);
    assertFalse(DeadLeaderDetector.advanced(cut, justAfter, leader), "5 ms after is within the margin");
    // A dead leader's last append, finished by a slow disk 30 ms after the cut and seen then, does
    // not count again 50 ms later: its contacts have stopped.
    var frozen = new DeadLeaderDetector.Seen(new DeadLeaderDetector.PeerView(null, leader, 50), cut + 80 * ms);
    assertFalse(DeadLeaderDetector.advanced(cut + 30 * ms, frozen, leader));
    var otherLeader = new DeadLeaderDetector.Seen(new DeadLeaderDetector.PeerView(null, RaftPeerId.valueOf("n3"), 0),
        askedAt);
    assertFalse(DeadLeaderDetector.advanced(cut, otherLeader, leader), "it follows someone else");
    var noLeader = new DeadLeaderDetector.Seen(new DeadLeaderDetector.PeerView(null, null, Long.MAX_VALUE), askedAt);
    assertFalse(DeadLeaderDetector.advanced(cut, noLeader, leader));
    assertFalse(DeadLeaderDetector.advanced(cut, new DeadLeaderDetector.Seen(null, askedAt), leader), "no answer");
    assertFalse(DeadLeaderDetector.advanced(cut, null, leader), "no answer is no evidence");
  }

  @Test
  void onlyANodeThatCanWinForcesAnElection() {
    assertFalse(DeadLeaderDetector.quorumAnswered(3, 0), "alone of 3: the other survivor did not answer");
    assertTrue(DeadLeaderDetector.quorumAnswered(3, 1));
    assertFalse(DeadLeaderDetector.quorumAnswered(5, 1), "a minority of 2 of 5, cut off with the leader's side");
    assertTrue(DeadLeaderDetector.quorumAnswered(5, 2));
    assertTrue(DeadLeaderDetector.quorumAnswered(5, 3));
  }

  @Test
  void theLookForSignsOfLifeFollowsTheLeadersPace() throws Exception {
    RaftPeerId leader = RaftPeerId.valueOf("n1");
    long ms = java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(1);
    try (DeadLeaderDetector d = new DeadLeaderDetector(() -> null, p -> null,
        org.apache.ratis.protocol.RaftGroupId.randomId(), RaftPeerId.valueOf("n2"), 250)) {
      assertEquals(Long.MAX_VALUE, d.paceMs(leader, System.nanoTime()), "nothing received yet");
      for (int i = 0; i < DeadLeaderDetector.PACE_SAMPLES; i++) {
        d.entriesFrom(leader);
      }
      long cut = System.nanoTime();
      assertTrue(d.paceMs(leader, cut) < 50, "appends back to back: " + d.paceMs(leader, cut));
      assertEquals(Long.MAX_VALUE, d.paceMs(RaftPeerId.valueOf("n3"), cut), "another node's appends say nothing");
      assertTrue(d.paceMs(leader, cut + 1_000 * ms) >= 1_000, "a second of silence before the cut is the pace");
      Thread.sleep(30);
      d.entriesFrom(leader);
      assertTrue(d.paceMs(leader, System.nanoTime()) >= 30, "the longest of the last gaps counts");

      assertEquals(DeadLeaderDetector.CONFIRM_MS, d.confirmMs(2), "busy: the shortest look");
      assertEquals(60 + 2 * DeadLeaderDetector.CONFIRM_MARGIN_MS, d.confirmMs(60), "the pace and slack");
      assertEquals(250 + 250 / 4, d.confirmMs(400), "at most a heartbeat interval and a quarter");
      assertEquals(250 + 250 / 4, d.confirmMs(Long.MAX_VALUE), "idle: a heartbeat interval and a quarter");
    }
  }
}
