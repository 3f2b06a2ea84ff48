package io.holdfast.client;

import java.time.Duration;
import java.util.List;

/** One member's view of the cluster (the member that answered is {@code memberId}). */
public record ClusterStatus(String memberId, String clusterId, String role, String leaderId, String leaderEndpoint,
    long term, long appliedIndex, long commitIndex, List<Member> members, Duration minSessionTtl,
    Duration maxSessionTtl, String version) {

  /** A voting member: its Raft (peer) address and its client endpoint. */
  public record Member(String id, String peerAddress, String clientAddress, boolean leader) {}

  public ClusterStatus {
    members = List.copyOf(members);
  }
}
