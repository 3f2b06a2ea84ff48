package io.holdfast.server.raft;

import java.io.IOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.conf.Parameters;
import org.apache.ratis.proto.RaftProtos.LogInfoProto;
import org.apache.ratis.proto.RaftProtos.RoleInfoProto;
import org.apache.ratis.protocol.GroupInfoReply;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.protocol.TermIndex;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Asks a peer's Raft port where its log ends and whom it follows (Ratis's group info), for the
 * {@link DeadLeaderDetector}.
 * One Ratis client per peer is kept once made: a new one costs a channel, a connection and, with
 * peer TLS, a handshake, and a failover is when those should not be paid. A client that failed is
 * dropped and made again on the next ask.
 */
final class PeerLogAsker implements DeadLeaderDetector.PeerLogs, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(PeerLogAsker.class);

  private record Asker(String address, RaftClient client) {}

  private final RaftGroupId groupId;
  private final Parameters parameters;
  private final Map<RaftPeerId, Asker> askers = new ConcurrentHashMap<>();
  private volatile boolean closed;
  // Warm-ups and closes, which may block for a while, on threads of their own.
  private final java.util.concurrent.ExecutorService background = java.util.concurrent.Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "holdfast-peer-log-asker");
    t.setDaemon(true);
    return t;
  });

  /** {@code parameters}: Ratis's, with peer TLS when the cluster uses it. */
  PeerLogAsker(RaftGroupId groupId, Parameters parameters) {
    this.groupId = groupId;
    this.parameters = parameters;
  }

  @Override
  public DeadLeaderDetector.PeerView viewOf(RaftPeer peer) {
    if (closed) {
      return null;
    }
    Asker asker = askers.compute(peer.getId(), (id, old) -> {
      if (old != null && old.address().equals(peer.getAddress())) {
        return old;
      }
      if (old != null) {
        closeLater(old.client());   // the member moved
      }
      return new Asker(peer.getAddress(), newClient(peer));
    });
    try {
      GroupInfoReply info = asker.client().getGroupManagementApi(peer.getId()).info(groupId);
      LogInfoProto log = info.getLogInfoProto();
      RoleInfoProto role = info.getRoleInfoProto();
      // A follower that knows no leader reports Ratis's default leader info (no id).
      boolean follows = role.hasFollowerInfo() && role.getFollowerInfo().getLeaderInfo().hasId();
      return new DeadLeaderDetector.PeerView(log.hasLastEntry() ? TermIndex.valueOf(log.getLastEntry()) : null,
          follows ? RaftPeerId.valueOf(role.getFollowerInfo().getLeaderInfo().getId().getId()) : null,
          follows ? role.getFollowerInfo().getLeaderInfo().getLastRpcElapsedTimeMs() : Long.MAX_VALUE);
    } catch (IOException | RuntimeException e) {
      LOG.debug("{} did not say where its log ends: {}", peer.getId(), e.toString());
      if (askers.remove(peer.getId(), asker)) {
        closeLater(asker.client());
      }
      return null;
    }
  }

  /**
   * Makes and drops one client to {@code self}, in the background: the first Ratis client of a JVM
   * loads and links its classes (300 ms on a busy machine), which would otherwise fall on the
   * first failover this node takes part in.
   */
  void warmUp(RaftPeer self) {
    background.execute(() -> {
      RaftClient c = newClient(self);
      try {
        c.getGroupManagementApi(self.getId()).info(groupId);
      } catch (IOException | RuntimeException e) {
        LOG.debug("warm-up ask of {} failed: {}", self.getId(), e.toString());
      } finally {
        closeLater(c);
      }
    });
  }

  private RaftClient newClient(RaftPeer peer) {
    return PeerRaftClients.to(peer, groupId, parameters, DeadLeaderDetector.ASK_TIMEOUT_MS);
  }

  private void closeLater(RaftClient client) {
    PeerRaftClients.closeLater(background, client);
  }

  @Override
  public void close() {
    closed = true;
    askers.values().forEach(a -> closeLater(a.client()));
    askers.clear();
    background.shutdown();
  }
}
