package io.holdfast.server.raft;

import java.io.IOException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.client.RaftClientConfigKeys;
import org.apache.ratis.conf.Parameters;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.retry.RetryPolicies;
import org.apache.ratis.util.TimeDuration;

/**
 * The Ratis clients a node opens to one peer's Raft port (PeerLogAsker, LeaderLink): no retries
 * (the caller decides what a failure means), one timeout, the cluster's peer TLS.
 */
final class PeerRaftClients {
  private PeerRaftClients() {}

  /** A client whose group is {@code peer} alone, so every request goes to it. */
  static RaftClient to(RaftPeer peer, RaftGroupId groupId, Parameters parameters, long timeoutMs) {
    RaftProperties p = new RaftProperties();
    RaftClientConfigKeys.Rpc.setRequestTimeout(p, TimeDuration.valueOf(timeoutMs, TimeUnit.MILLISECONDS));
    // Only the Raft address: the peer's client-address field carries Holdfast's client port.
    RaftPeer target = RaftPeer.newBuilder().setId(peer.getId()).setAddress(peer.getAddress()).build();
    return RaftClient.newBuilder()
        .setRaftGroup(RaftGroup.valueOf(groupId, target))
        .setProperties(p)
        .setParameters(parameters)
        .setRetryPolicy(RetryPolicies.noRetry())
        .build();
  }

  /** Closes {@code client} on {@code executor}: closing a gRPC channel can take a while. */
  static void closeLater(Executor executor, RaftClient client) {
    try {
      executor.execute(() -> {
        try {
          client.close();
        } catch (IOException ignored) {
          // nothing left to do with it
        }
      });
    } catch (RejectedExecutionException stopping) {
      // the node is stopping: its process takes the channel with it
    }
  }
}
