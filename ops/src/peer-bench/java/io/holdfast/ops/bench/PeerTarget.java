package io.holdfast.ops.bench;

import io.holdfast.ops.cli.Output;
import java.io.PrintWriter;
import java.util.Arrays;
import picocli.CommandLine.Option;

/** Which peer cluster a run starts, and how its figures are printed. */
final class PeerTarget {
  enum Peer { etcd, zookeeper }

  @Option(names = "--members", description = "cluster members to start on loopback (default ${DEFAULT-VALUE})")
  int members = 3;

  @Option(names = "--etcd-binary", paramLabel = "PATH",
      description = "the etcd server binary (default: $ETCD_BINARY, else etcd on the PATH, as Debian's etcd-server installs it)")
  String etcdBinary;

  @Option(names = "--zookeeper-classpath", paramLabel = "CP",
      description = "classpath of the ZooKeeper server (default: $ZOOKEEPER_CLASSPATH, else Debian's: "
          + ZooKeeperCluster.DEBIAN_CLASSPATH + ")")
  String zookeeperClasspath;

  @Option(names = "--zookeeper-jvm-flags", paramLabel = "FLAGS",
      description = "JVM flags of the ZooKeeper servers (default: none, as Debian's launcher passes none)")
  String zookeeperJvmFlags = "";

  @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", description = "table (default) or json")
  Output.Format output = Output.Format.table;

  boolean json() {
    return output == Output.Format.json;
  }

  String problem() {
    return members < 1 || members > 7 ? "--members must be between 1 and 7, got " + members : null;
  }

  /** Starts the peer's cluster; closing it kills its members and removes its directory. */
  PeerCluster open(Peer peer, PrintWriter err) throws Exception {
    PeerCluster c = switch (peer) {
      case etcd -> new EtcdCluster(first(etcdBinary, System.getenv("ETCD_BINARY"), "etcd"), members);
      case zookeeper -> new ZooKeeperCluster(
          first(zookeeperClasspath, System.getenv("ZOOKEEPER_CLASSPATH"), ZooKeeperCluster.DEBIAN_CLASSPATH),
          Arrays.stream(zookeeperJvmFlags.trim().split("\\s+")).filter(f -> !f.isEmpty()).toList(), members);
    };
    try {
      c.start(err);
      return c;
    } catch (Exception | Error e) {
      c.close();
      throw e;
    }
  }

  private static String first(String... candidates) {
    for (String s : candidates) {
      if (s != null && !s.isBlank()) {
        return s;
      }
    }
    return null;
  }
}
