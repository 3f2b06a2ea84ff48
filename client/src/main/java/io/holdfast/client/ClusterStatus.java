package io.holdfast.client;

import java.time.Duration;
import java.util.List;

/**
 * One member's view of the cluster (the member that answered is {@code memberId}).
 * {@code applyRules}: the rules the cluster writes its log under, as this member last applied
 * them; {@code applyRulesSupported}: the highest this member's build knows (0 from an older
 * server). During a rolling upgrade the first stays at the old build's until every voter knows more.
 */
public record ClusterStatus(String memberId, String clusterId, String role, String leaderId, String leaderEndpoint,
    long term, long appliedIndex, long commitIndex, List<Member> members, Duration minSessionTtl,
    Duration maxSessionTtl, String version, int applyRules, int applyRulesSupported) {

  /** A voting member: its Raft (peer) address and its client endpoint. */
  public record Member(String id, String peerAddress, String clientAddress, boolean leader) {}

  public ClusterStatus {
    members = List.copyOf(members);
  }

  /** A status without apply rules (as an older server answers). */
  public ClusterStatus(String memberId, String clusterId, String role, String leaderId, String leaderEndpoint,
      long term, long appliedIndex, long commitIndex, List<Member> members, Duration minSessionTtl,
      Duration maxSessionTtl, String version) {
    this(memberId, clusterId, role, leaderId, leaderEndpoint, term, appliedIndex, commitIndex, members, minSessionTtl,
        maxSessionTtl, version, 0, 0);
  }
}
