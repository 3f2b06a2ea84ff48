package io.holdfast.ops.bench;

import io.etcd.jetcd.Client;
import java.time.Duration;
import java.util.List;

/**
 * The holder process of {@code peer-bench ... orphan}: takes a lock with a lease/session of the given
 * TTL, says so on stdout, and keeps it alive until it is killed (or its bench goes away).
 * Arguments: peer, connect string, lock name, TTL in ms.
 */
public final class PeerOrphanHolder {
  private PeerOrphanHolder() {}

  public static void main(String[] args) throws Exception {
    PeerBench.quietLogs();
    PeerTarget.Peer peer = PeerTarget.Peer.valueOf(args[0]);
    Duration ttl = Duration.ofMillis(Long.parseLong(args[3]));
    PeerLockers.PeerLocker locker = switch (peer) {
      case etcd -> {
        Client client = EtcdCluster.client(args[1]);
        yield new EtcdCluster.EtcdLocker(client, ttl);
      }
      case zookeeper -> new ZooKeeperCluster.ZkLocker(ZooKeeperCluster.curator(args[1], ttl));
    };
    long token = locker.lock(args[2]);
    System.out.println("HELD " + token + " " + locker.sessionId());
    System.out.flush();
    // Hold until killed; if the bench itself dies first, its end of our stdin closes, and so do we.
    while (System.in.read() >= 0) {
      // nothing is ever sent
    }
    System.exit(0);
  }

  /** The command line that starts a holder with this JVM's classpath. */
  static List<String> command(String java, PeerTarget.Peer peer, String connectString, String lock, Duration ttl) {
    return List.of(java, "-Xmx128m", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
        PeerOrphanHolder.class.getName(), peer.name(), connectString, lock, Long.toString(ttl.toMillis()));
  }
}
