package io.holdfast.ops.bench;

import java.io.PrintWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * W1 and W2 ({@code --shared}) on a peer, measured by the same {@link LockLoop} as Holdfast's
 * {@link LocksBench}: the same closed loop, clock points, warmup cut, HdrHistogram, fairness figure
 * and hold check, so that the two reports compare line for line. Only the lock client differs.
 */
@Command(name = "locks", mixinStandardHelpOptions = true,
    description = "Acquire + release in a closed loop on a peer cluster this run starts: ops/s, latency percentiles, "
        + "fairness (--shared), and the overlap/token check of holdfast bench locks.")
final class PeerLocksBench extends PeerWorkload {
  @Mixin
  LockLoop loop;

  PeerLocksBench(PeerTarget.Peer peer) {
    super(peer);
  }

  @Override
  String optionProblem() {
    return loop.problem();
  }

  @Override
  BenchReport run(PeerCluster cluster, PrintWriter err) throws Exception {
    try (PeerLockers lockers = cluster.lockers(loop.clients, loop.connections, loop.ttl)) {
      BenchReport r = new BenchReport(loop.workload());
      r.put("system", cluster.system()).put("members", cluster.members);
      java.util.List<Locker> each = new java.util.ArrayList<>();
      for (int c = 0; c < loop.clients; c++) {
        each.add(lockers.get(c));
      }
      loop.run(r, each, lockers.connections(), err);
      return r;
    }
  }
}
