package io.holdfast.server.api;

import io.grpc.stub.StreamObserver;
import io.holdfast.proto.v1.AdminServiceGrpc;
import io.holdfast.proto.v1.ClusterStatusRequest;
import io.holdfast.proto.v1.ClusterStatusResponse;
import io.holdfast.proto.v1.Member;
import io.holdfast.server.config.PeerConfig;
import io.holdfast.server.config.ServerConfig;
import io.holdfast.server.raft.RaftNode;

/** The admin service: what this node knows of the cluster. */
public final class AdminEndpoint extends AdminServiceGrpc.AdminServiceImplBase {
  public static final String VERSION = "0.1.0";

  private final ServerConfig config;
  private final RaftNode raft;
  private final ApiErrors errors;

  public AdminEndpoint(ServerConfig config, RaftNode raft, ApiErrors errors) {
    this.config = config;
    this.raft = raft;
    this.errors = errors;
  }

  @Override
  public void clusterStatus(ClusterStatusRequest req, StreamObserver<ClusterStatusResponse> out) {
    try {
      String leader = raft.leaderId();
      ClusterStatusResponse.Builder b = ClusterStatusResponse.newBuilder()
          .setMemberId(config.nodeId())
          .setClusterId(config.clusterId().toString())
          .setTerm(raft.term())
          .setAppliedIndex(raft.appliedIndex())
          .setCommitIndex(raft.commitIndex())
          .setRole(raft.role())
          .setMinSessionTtlMs(config.minSessionTtlMs())
          .setMaxSessionTtlMs(config.maxSessionTtlMs())
          .setVersion(VERSION);
      if (leader != null) {
        b.setLeaderId(leader);
        PeerConfig lp = config.peer(leader);
        if (lp != null) {
          b.setLeaderClientAddress(lp.clientAddress().toString());
        }
      }
      for (PeerConfig p : config.peers()) {
        b.addMembers(Member.newBuilder().setId(p.id()).setPeerAddress(p.peerAddress().toString())
            .setClientAddress(p.clientAddress().toString()).setLeader(p.id().equals(leader)));
      }
      out.onNext(b.build());
      out.onCompleted();
    } catch (RuntimeException e) {
      out.onError(errors.of(e));
    }
  }
}
