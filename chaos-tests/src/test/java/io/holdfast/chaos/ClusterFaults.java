package io.holdfast.chaos;

import io.holdfast.chaos.Schedule.Fault;
import io.holdfast.chaos.Schedule.Kind;
import io.holdfast.proto.v1.AddMemberRequest;
import io.holdfast.proto.v1.AdminServiceGrpc;
import io.holdfast.proto.v1.ListMembersRequest;
import io.holdfast.proto.v1.RemoveMemberRequest;
import io.holdfast.proto.v1.TransferLeaderRequest;
import io.holdfast.server.testing.ProcessCluster;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Collectors;

/**
 * The server faults that need more than a signal: partitions (namespace firewall rules), a clock
 * offset on one node (a restart under libfaketime), a stop of the whole cluster, a kill -9 of a
 * minority ({@code nodes/2}) restarted on the same data dirs, and a member swap. Each one heals
 * itself before {@link #inject} returns (a swap needs no healing: the run goes on with the new
 * members); {@link #healAll} is the safety net at the end.
 */
final class ClusterFaults {
  /** Where nemesis events go (the run's history). */
  interface Recorder {
    void nemesis(String f, String target, Map<String, Object> value);
  }

  static final Set<Kind> KINDS = Set.of(Kind.PARTITION_LEADER, Kind.PARTITION_SPLIT, Kind.PARTITION_BRIDGE,
      Kind.PARTITION_DEAF, Kind.PARTITION_LOSSY, Kind.CLOCK_SKEW, Kind.RESTART_ALL, Kind.KILL_MINORITY,
      Kind.MEMBER_SWAP);

  private final ProcessCluster cluster;
  private final Membership membership;
  private final FaultSupport support;
  private final Recorder recorder;
  private final Set<Integer> skewed = new TreeSet<>();
  private final List<String> notes = new ArrayList<>();
  private boolean partitioned;

  ClusterFaults(ProcessCluster cluster, Membership membership, FaultSupport support, Recorder recorder) {
    this.cluster = cluster;
    this.membership = membership;
    this.support = support;
    this.recorder = recorder;
  }

  void inject(Fault f, Map<String, Object> v) throws InterruptedException {
    long start = System.nanoTime();
    long duration = TimeUnit.MILLISECONDS.toNanos(f.durationMs());
    List<Integer> members = membership.current();
    int n = members.size();
    switch (f.kind()) {
      case PARTITION_LEADER, PARTITION_SPLIT, PARTITION_BRIDGE, PARTITION_DEAF, PARTITION_LOSSY -> {
        NetnsNetwork net = support.network().orElseThrow(() -> new IllegalStateException("no namespaces"));
        int leader = cluster.awaitLeader(Duration.ofSeconds(60));
        Partition p = switch (f.kind()) {
          case PARTITION_LEADER -> Partition.isolate(leader, members);
          case PARTITION_SPLIT -> Partition.split(f.targetChoice(), members);
          case PARTITION_BRIDGE -> Partition.bridge(f.targetChoice(), members);
          case PARTITION_DEAF -> Partition.deaf(leaderOrFollower(f.targetChoice(), leader, members), members);
          default -> Partition.lossy(f.lossPercent(), members);
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
        int node = members.get(f.targetChoice() % n);
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
        for (int i : members) {
          cluster.kill(i);
        }
        recorder.nemesis("kill-all", null, v);
        sleepUntil(System.nanoTime() + duration);
        for (int i : members) {
          cluster.start(i);
        }
        // Three JVMs starting at once on shared cores take seconds: count the heal from when they serve.
        int leader = cluster.awaitLeader(Duration.ofSeconds(90));
        recorder.nemesis("restart-all", null, Map.of("fault", f.index(), "leader", ProcessCluster.nodeId(leader)));
      }
      case KILL_MINORITY -> {
        // nodes/2 nodes from the seed, the leader among them or not: the majority must go on serving.
        List<Integer> nodes = Schedule.minority(f.targetChoice(), n).stream().map(members::get).sorted().toList();
        int leader = cluster.awaitLeader(Duration.ofSeconds(60));
        List<String> ids = nodes.stream().map(ProcessCluster::nodeId).toList();
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
      case MEMBER_SWAP -> {
        swap(f, members, v);
        sleepUntil(start + duration);
      }
      default -> throw new IllegalStateException(f.kind().name());
    }
  }

  /**
   * Starts a fresh node on a spare slot (join: true), adds it, then removes a member: the leader
   * (after a leadership transfer, as an operator would) or a follower. Each step is retried, and
   * the cluster's own member list decides whether a step took effect, since a change whose reply
   * was lost may still have been committed. A step that cannot be done is noted, not failed: the
   * checkers judge the run.
   */
  private void swap(Fault f, List<Integer> members, Map<String, Object> v) throws InterruptedException {
    OptionalInt slot = membership.takeSpare();
    if (slot.isEmpty()) {
      notes.add("fault " + f.index() + ": no spare node slot left, no swap");
      return;
    }
    int spare = slot.getAsInt();
    String spareId = ProcessCluster.nodeId(spare);
    int leader = cluster.awaitLeader(Duration.ofSeconds(60));
    int retire = leaderOrFollower(f.targetChoice(), leader, members);
    String retireId = ProcessCluster.nodeId(retire);
    v.put("add", spareId);
    v.put("remove", retireId);
    v.put("leader", ProcessCluster.nodeId(leader));
    cluster.startJoining(spare);
    recorder.nemesis("member-join", spareId, v);
    AddMemberRequest add = AddMemberRequest.newBuilder().setId(spareId).setPeerAddress(cluster.peerAddress(spare))
        .setClientAddress(cluster.endpoint(spare)).build();
    String added = changeMembers(members, spareId, true, -1, f.index(), stub -> stub.addMember(add));
    if (added != null) {
      notes.add("fault " + f.index() + ": " + spareId + " was not added (" + added + "); it is stopped");
      cluster.kill(spare);
      recorder.nemesis("member-add-failed", spareId, Map.of("fault", f.index(), "error", added));
      return;
    }
    membership.added(spare);
    recorder.nemesis("member-added", spareId, Map.of("fault", f.index()));
    RemoveMemberRequest remove = RemoveMemberRequest.newBuilder().setId(retireId).build();
    String removed = changeMembers(membership.current(), retireId, false, retire, f.index(),
        stub -> stub.removeMember(remove));
    if (removed != null) {
      notes.add("fault " + f.index() + ": " + retireId + " was not removed (" + removed + "); "
          + membership.current().size() + " members go on");
      recorder.nemesis("member-remove-failed", retireId, Map.of("fault", f.index(), "error", removed));
      return;
    }
    membership.removed(retire);
    // A removed node stops by itself (exit 0); one that does not is killed, and noted.
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (cluster.isRunning(retire) && System.nanoTime() < end) {
      Thread.sleep(100);
    }
    OptionalInt exit = cluster.exitCode(retire);
    if (exit.isEmpty() || exit.getAsInt() != 0) {
      notes.add("fault " + f.index() + ": removed " + retireId + " did not stop by itself with exit 0 ("
          + (exit.isEmpty() ? "still running after 30 s, killed" : "exit " + exit.getAsInt()) + ")");
      cluster.kill(retire);
    }
    recorder.nemesis("member-removed", retireId, Map.of("fault", f.index(),
        "members", membership.current().stream().map(ProcessCluster::nodeId).toList()));
  }

  /**
   * Sends a membership change to the leader until the member list shows it (60 s at most);
   * returns null when it took effect, else the last error. A member is removed by another leader:
   * while {@code leaving} leads, leadership is handed to another member first (and again, should
   * it come back), as the runbook says.
   */
  private String changeMembers(List<Integer> among, String id, boolean add, int leaving, int fault,
      Consumer<AdminServiceGrpc.AdminServiceBlockingStub> change) throws InterruptedException {
    String last = "no leader among " + among;
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < end) {
      int leader = leaderAmong(among, Duration.ofSeconds(10));
      if (leader >= 0 && leader == leaving) {
        int to = among.stream().filter(m -> m != leaving).findFirst().orElseThrow();
        recorder.nemesis("transfer-leader", ProcessCluster.nodeId(to), transferLeader(leader, to, fault));
        continue;
      }
      if (leader >= 0) {
        try {
          change.accept(AdminServiceGrpc.newBlockingStub(cluster.channel(leader)).withDeadlineAfter(30,
              TimeUnit.SECONDS));
          return null;
        } catch (RuntimeException e) {
          last = e.getMessage();
        }
        Set<String> ids = memberIds(leader);
        if (ids != null && ids.contains(id) == add) {
          return null;
        }
      }
      Thread.sleep(1_000);
    }
    return last;
  }

  /** The member ids the node at {@code slot} reports from the replicated configuration, or null. */
  private Set<String> memberIds(int slot) {
    try {
      return AdminServiceGrpc.newBlockingStub(cluster.channel(slot)).withDeadlineAfter(5, TimeUnit.SECONDS)
          .listMembers(ListMembersRequest.getDefaultInstance()).getMembersList().stream().map(m -> m.getId())
          .collect(Collectors.toSet());
    } catch (RuntimeException e) {
      return null;
    }
  }

  /**
   * The member that reports itself leader, or -1 after {@code timeout}. Unlike
   * {@link ProcessCluster#awaitLeader}, a running node that is not a member (joining) is ignored.
   */
  private int leaderAmong(List<Integer> among, Duration timeout) throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    do {
      for (int i : among) {
        var s = cluster.status(i);
        if (s != null && s.getRole().equals("LEADER")) {
          return i;
        }
      }
      Thread.sleep(100);
    } while (System.nanoTime() < end);
    return -1;
  }

  /** Even choices: the leader; odd ones: a follower, counted in slot order. */
  static int leaderOrFollower(int targetChoice, int leader, List<Integer> members) {
    if (targetChoice % 2 == 0) {
      return leader;
    }
    List<Integer> followers = members.stream().filter(m -> m != leader).sorted().toList();
    return followers.get((targetChoice / 2) % followers.size());
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
  List<String> notes() {
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
