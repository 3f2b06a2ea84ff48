package io.holdfast.chaos;

import io.holdfast.chaos.Schedule.Fault;
import io.holdfast.chaos.Schedule.Kind;
import io.holdfast.proto.v1.AdminServiceGrpc;
import io.holdfast.proto.v1.TransferLeaderRequest;
import io.holdfast.server.testing.ProcessCluster;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

/**
 * The server faults that need more than a signal: partitions (namespace firewall rules), a clock
 * offset on one node (a restart under libfaketime), a stop of the whole cluster, and a kill -9 of a
 * minority ({@code nodes/2}) restarted on the same data dirs. Each one heals
 * itself before {@link #inject} returns; {@link #healAll} is the safety net at the end.
 */
final class ClusterFaults {
  /** Where nemesis events go (the run's history). */
  interface Recorder {
    void nemesis(String f, String target, Map<String, Object> value);
  }

  static final Set<Kind> KINDS = Set.of(Kind.PARTITION_LEADER, Kind.PARTITION_SPLIT, Kind.PARTITION_BRIDGE,
      Kind.PARTITION_DEAF, Kind.PARTITION_LOSSY, Kind.CLOCK_SKEW, Kind.RESTART_ALL, Kind.KILL_MINORITY);

  private final ProcessCluster cluster;
  private final FaultSupport support;
  private final Recorder recorder;
  private final Set<Integer> skewed = new TreeSet<>();
  private final java.util.List<String> notes = new java.util.ArrayList<>();
  private boolean partitioned;

  ClusterFaults(ProcessCluster cluster, FaultSupport support, Recorder recorder) {
    this.cluster = cluster;
    this.support = support;
    this.recorder = recorder;
  }

  void inject(Fault f, Map<String, Object> v) throws InterruptedException {
    long duration = TimeUnit.MILLISECONDS.toNanos(f.durationMs());
    int n = cluster.size();
    switch (f.kind()) {
      case PARTITION_LEADER, PARTITION_SPLIT, PARTITION_BRIDGE, PARTITION_DEAF, PARTITION_LOSSY -> {
        NetnsNetwork net = support.network().orElseThrow(() -> new IllegalStateException("no namespaces"));
        int leader = cluster.awaitLeader(Duration.ofSeconds(60));
        Partition p = switch (f.kind()) {
          case PARTITION_LEADER -> Partition.isolate(leader, n);
          case PARTITION_SPLIT -> Partition.split(f.targetChoice(), n);
          case PARTITION_BRIDGE -> Partition.bridge(f.targetChoice(), n);
          case PARTITION_DEAF -> Partition.deaf(deafNode(f.targetChoice(), leader, n), n);
          default -> Partition.lossy(f.lossPercent(), n);
        };
        v.put("leader", ProcessCluster.nodeId(leader));
        v.put("partition", p.description());
        if (f.kind() == Kind.PARTITION_LOSSY) {
          v.put("loss_percent", f.lossPercent());
        }
        net.apply(p);
        partitioned = true;
        recorder.nemesis("partition", p.description(), v);
        sleepUntil(System.nanoTime() + duration);
        net.heal();
        partitioned = false;
        recorder.nemesis("heal-partition", p.description(), Map.of("fault", f.index()));
      }
      case CLOCK_SKEW -> {
        FakeTime ft = support.fakeTime().orElseThrow(() -> new IllegalStateException("no libfaketime"));
        int node = f.targetChoice() % n;
        String id = ProcessCluster.nodeId(node);
        v.put("offset", FakeTime.offset(f.clockOffsetMs()));
        cluster.kill(node);
        cluster.environment(node, ft.environment(f.clockOffsetMs()));
        skewed.add(node);
        cluster.start(node);
        recorder.nemesis("clock-skew", id, v);
        // The leader stamps the log with its wall clock: make the skewed node lead, so the offset bites.
        int leader = cluster.awaitLeader(Duration.ofSeconds(60));
        recorder.nemesis("transfer-leader", id, transferLeader(leader, node, f.index()));
        // Counted from here: a restart on shared cores takes seconds, and the skew should get to lead.
        sleepUntil(System.nanoTime() + duration);
        unskew(node);
        recorder.nemesis("clock-reset", id, Map.of("fault", f.index()));
      }
      case RESTART_ALL -> {
        for (int i = 0; i < n; i++) {
          cluster.kill(i);
        }
        recorder.nemesis("kill-all", null, v);
        sleepUntil(System.nanoTime() + duration);
        cluster.start();
        // Three JVMs starting at once on shared cores take seconds: count the heal from when they serve.
        int leader = cluster.awaitLeader(Duration.ofSeconds(90));
        recorder.nemesis("restart-all", null, Map.of("fault", f.index(), "leader", ProcessCluster.nodeId(leader)));
      }
      case KILL_MINORITY -> {
        // nodes/2 nodes from the seed, the leader among them or not: the majority must go on serving.
        java.util.List<Integer> nodes = Schedule.minority(f.targetChoice(), n);
        int leader = cluster.awaitLeader(Duration.ofSeconds(60));
        java.util.List<String> ids = nodes.stream().map(ProcessCluster::nodeId).toList();
        v.put("nodes", ids);
        v.put("leader", ProcessCluster.nodeId(leader));
        v.put("leader_killed", nodes.contains(leader));
        for (int node : nodes) {
          cluster.kill(node);
        }
        recorder.nemesis("kill-minority", String.join(",", ids), v);
        sleepUntil(System.nanoTime() + duration);
        for (int node : nodes) {
          cluster.start(node);
        }
        recorder.nemesis("restart-minority", String.join(",", ids), Map.of("fault", f.index()));
      }
      default -> throw new IllegalStateException(f.kind().name());
    }
  }

  /** Even choices: the leader; odd ones: a follower, counted in node order. */
  static int deafNode(int targetChoice, int leader, int nodes) {
    if (targetChoice % 2 == 0) {
      return leader;
    }
    int follower = (targetChoice / 2) % (nodes - 1);
    return follower < leader ? follower : follower + 1;
  }

  /** Best effort, two tries: a transfer to a just-restarted node sometimes ends with a third node leading. */
  private Map<String, Object> transferLeader(int leader, int node, int fault) throws InterruptedException {
    String to = ProcessCluster.nodeId(node);
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("fault", fault);
    String last = "";
    for (int attempt = 1; attempt <= 2; attempt++) {
      if (leader == node) {
        out.put("leader_id", to);
        out.put("attempts", attempt - 1);
        return out;
      }
      awaitCaughtUp(leader, node);
      try {
        var r = AdminServiceGrpc.newBlockingStub(cluster.channel(leader)).withDeadlineAfter(8, TimeUnit.SECONDS)
            .transferLeader(TransferLeaderRequest.newBuilder().setTo(to).setTimeoutMs(5_000).build());
        last = r.getLeaderId() + " leads";
      } catch (RuntimeException e) {
        last = e.getMessage();
      }
      leader = cluster.awaitLeader(Duration.ofSeconds(30));
    }
    out.put("leader_id", ProcessCluster.nodeId(leader));
    out.put("attempts", 2);
    if (leader != node) {
      out.put("error", last);
      notes.add("fault " + fault + ": skewed " + to + " did not take the lead in 2 transfers (" + last + ")");
    }
    return out;
  }

  /**
   * Ratis gives up a transfer to a follower that is behind: let the restarted node apply up to
   * where the leader's commit was when we asked (the commit keeps moving under the workers' load).
   */
  private void awaitCaughtUp(int leader, int node) throws InterruptedException {
    var leaderStatus = cluster.status(leader);
    if (leaderStatus == null) {
      return;
    }
    long target = leaderStatus.getCommitIndex();
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() < end) {
      var nodeStatus = cluster.status(node);
      if (nodeStatus != null && nodeStatus.getAppliedIndex() >= target) {
        return;
      }
      Thread.sleep(100);
    }
  }


  private void unskew(int node) {
    cluster.kill(node);
    cluster.environment(node, Map.of());
    cluster.start(node);
    skewed.remove(node);
  }

  /** What did not go as planned (a fault that bit less than intended), for the summary. */
  java.util.List<String> notes() {
    return notes;
  }

  /** Removes any partition and restarts any skewed node on the true clock; true if anything was left. */
  boolean healAll() {
    boolean any = partitioned || !skewed.isEmpty();
    support.network().ifPresent(NetnsNetwork::heal);
    partitioned = false;
    for (int node : Set.copyOf(skewed)) {
      unskew(node);
    }
    return any;
  }

  private static void sleepUntil(long nanoTime) throws InterruptedException {
    long left;
    while ((left = nanoTime - System.nanoTime()) > 0) {
      Thread.sleep(Math.max(1, Math.min(TimeUnit.NANOSECONDS.toMillis(left), 500)));
    }
  }
}
