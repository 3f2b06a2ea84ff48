package io.holdfast.ops.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.client.ClusterStatus;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * What `holdfast status` asks and how it judges the answers: the cluster's own member list, not
 * only --endpoints (a member added later is not in $HOLDFAST_ENDPOINTS), and one cluster only.
 */
class StatusProbeTest {
  static final List<ClusterStatus.Member> FOUR = List.of(new ClusterStatus.Member("n1", "h1:7410", "h1:7400", true),
      new ClusterStatus.Member("n2", "h2:7410", "h2:7400", false),
      new ClusterStatus.Member("n3", "h3:7410", "h3:7400", false),
      new ClusterStatus.Member("n4", "h4:7410", "h4:7400", false));

  static ClusterStatus answer(String id, String role, String cluster) {
    return new ClusterStatus(id, cluster, role, "n1", "h1:7400", 3, 10, 10, FOUR, Duration.ofSeconds(1),
        Duration.ofSeconds(60), "x", 4, 4);
  }

  /** A cluster of n1..n4 (n1 leads) where {@code answering} maps endpoints to answers; the rest are down. */
  static final class Cluster {
    final Map<String, ClusterStatus> answering = new HashMap<>();
    final List<String> asked = new ArrayList<>();

    Cluster up(String endpoint, ClusterStatus s) {
      answering.put(endpoint, s);
      return this;
    }

    StatusCommand.Report probe(String... endpoints) {
      return StatusCommand.probe(List.of(endpoints), e -> {
        asked.add(e);
        return answering.get(e);
      });
    }
  }

  static Cluster allUp() {
    return new Cluster().up("h1:7400", answer("n1", "LEADER", "c1")).up("h2:7400", answer("n2", "FOLLOWER", "c1"))
        .up("h3:7400", answer("n3", "FOLLOWER", "c1")).up("h4:7400", answer("n4", "FOLLOWER", "c1"));
  }

  @Test
  void aMemberMissingFromTheEndpointsIsAskedAndFailsTheCheckWhenDown() {
    Cluster c = allUp();
    c.answering.remove("h4:7400");
    StatusCommand.Report r = c.probe("h1:7400", "h2:7400", "h3:7400");
    assertEquals(List.of("h1:7400", "h2:7400", "h3:7400", "h4:7400"), c.asked);
    assertFalse(r.healthy(), "a voter does not answer");
    StatusCommand.Probe n4 = r.probes().get(3);
    assertEquals("n4", n4.memberId());
    assertEquals("unreachable", n4.health());
    assertFalse(n4.inEndpoints);
    assertEquals(List.of("not in --endpoints"), n4.notes);
    assertTrue(r.problems().contains("member n4 (h4:7400) is not in --endpoints and does not answer"), r.problems()
        .toString());

    StatusCommand.Report up = allUp().probe("h1:7400", "h2:7400", "h3:7400");
    assertTrue(up.healthy(), "answering, it is healthy, and still named");
    assertEquals(4, up.probes().size());
    assertEquals(List.of("member n4 (h4:7400) is not in --endpoints"), up.problems());
  }

  @Test
  void theLeaderMayBeAMemberTheEndpointsLeaveOut() {
    StatusCommand.Report r = allUp().probe("h2:7400", "h3:7400");
    assertEquals("n1", r.leader().memberId());
    assertTrue(r.healthy(), r.problems().toString());
    assertEquals(List.of("member n1 (h1:7400) is not in --endpoints", "member n4 (h4:7400) is not in --endpoints"),
        r.problems());
  }

  @Test
  void aDownEndpointThatIsAMembersAddressIsThatMemberAndNotAskedTwice() {
    Cluster c = allUp();
    c.answering.remove("h2:7400");
    StatusCommand.Report r = c.probe("h1:7400", "h2:7400", "h3:7400", "h4:7400");
    assertEquals(4, r.probes().size());
    assertEquals("n2", r.probes().get(1).memberId());
    assertEquals(Boolean.TRUE, r.probes().get(1).voter);
    assertFalse(r.healthy());
    assertEquals(List.of(), r.problems());
  }

  @Test
  void answersFromAnotherClusterFailTheCheck() {
    // A typo in one endpoint reaches a node of another cluster, which says it is fine.
    Cluster c = allUp().up("h9:7400", answer("n3", "LEADER", "c2"));
    StatusCommand.Report r = c.probe("h1:7400", "h2:7400", "h9:7400", "h4:7400");
    assertFalse(r.healthy());
    assertEquals(2, r.clusters().size());
    assertTrue(r.problems().get(0).startsWith("the endpoints answer for 2 different clusters: c1 (n1 at h1:7400"),
        r.problems().toString());
    assertTrue(r.problems().get(0).contains("c2 (n3 at h9:7400)"), r.problems().toString());
  }

  @Test
  void anEndpointThatIsNotAMemberIsMarkedButAMemberUpIsHealthy() {
    // A removed node still running (or one started to join and not yet added).
    Cluster c = allUp().up("h5:7400", answer("n5", "FOLLOWER", "c1"));
    StatusCommand.Report r = c.probe("h1:7400", "h2:7400", "h3:7400", "h4:7400", "h5:7400");
    assertTrue(r.healthy());
    StatusCommand.Probe n5 = r.probes().get(4);
    assertEquals(Boolean.FALSE, n5.voter);
    assertEquals(List.of("not a member"), n5.notes);
    assertEquals(List.of("h5:7400 answers as n5, which is not a member of the cluster"), r.problems());
  }

  @Test
  void withNoAnswerAtAllNothingIsKnownAndNothingIsHealthy() {
    StatusCommand.Report r = new Cluster().probe("h1:7400", "h2:7400");
    assertFalse(r.healthy());
    assertNull(r.leader());
    assertNull(r.probes().get(0).voter);
  }
}
