package io.holdfast.server.raft;

import io.holdfast.server.config.ConfigException;
import io.holdfast.server.config.HostPort;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.apache.ratis.proto.RaftProtos.RaftGroupIdProto;
import org.apache.ratis.proto.RaftProtos.RaftRpcRequestProto;
import org.apache.ratis.proto.RaftProtos.StartLeaderElectionReplyProto;
import org.apache.ratis.proto.RaftProtos.StartLeaderElectionRequestProto;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.DivisionInfo;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.protocol.TermIndex;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts an election as soon as the leader's process is known to be gone, instead of waiting out
 * the election timeout (a Ratis follower notices a silent leader between one and two timeouts
 * after its last heartbeat, 0.5-2 s by default).
 *
 * <p>The evidence is the one ZooKeeper's followers act on: the leader's AppendEntries stream to
 * this node was cut (its connection closed), and a new connection to the leader's Raft port is
 * refused. A live leader accepts connections; a process that died (crash, OOM kill, kill -9) left
 * a host whose kernel refuses them. A leader that is alive but cut off (packets dropped, a host that
 * lost power and sends no reset) does not refuse: the probe times out and the timeout applies.
 *
 * <p>The follower then starts the election the way a leader hands over leadership (Raft's
 * TimeoutNow, Ratis's {@code startLeaderElection}), in the dead leader's name because only the
 * leader may ask. Raft's safety never depends on when an election starts; a wrong guess costs one
 * term. The surviving voters ask each other for their last log entry and go one step apart, the
 * longest log first (ties by id), so that two candidates do not split the vote and the first one
 * is not refused for a shorter log; a later one goes only if no election has moved the term.
 *
 * <p>A firewall that rejects the packets between a live leader and this node also cuts the stream
 * and refuses the connect. So before each step the other voters are asked when they last heard
 * from the leader: while one keeps hearing from it, this node holds back (a forced election would
 * depose a working leader), and after a while leaves the matter to the election timeout, where
 * pre-vote decides.
 */
public final class DeadLeaderDetector implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(DeadLeaderDetector.class);
  private static final int PROBE_TIMEOUT_MS = 250;
  /** How long a survivor waits for another's answer about its log before ordering by id alone. */
  static final int ASK_TIMEOUT_MS = 300;

  /**
   * How long the first survivor waits before it acts: long enough for another survivor to hear from
   * a leader that is alive and busy (it appends every few milliseconds under load).
   */
  static final int CONFIRM_MS = 40;
  /** Clock and transport slack in telling "heard after the cut" from "heard just before it". */
  static final int CONFIRM_MARGIN_MS = 10;
  /** How many of the leader's last appends with entries tell its pace. */
  static final int PACE_SAMPLES = 4;

  /**
   * What a voter says of itself: where its log ends, the leader it follows (null: none) and how
   * long ago it last heard from it.
   */
  public record PeerView(TermIndex lastEntry, RaftPeerId leader, long leaderElapsedMs) {}

  /** Asks a peer about itself; null if it does not answer within {@link #ASK_TIMEOUT_MS}. */
  @FunctionalInterface
  public interface PeerLogs {
    PeerView viewOf(RaftPeer peer);
  }

  private final Supplier<RaftServer> server;
  private final PeerLogs peerLogs;
  private final RaftGroupId groupId;
  private final RaftPeerId selfId;
  private final long stepMs;
  private final AtomicLong callIds = new AtomicLong();
  // The term whose leader was found dead: its log and heartbeat streams are cut together, and one
  // election is enough. A probe the leader answered is not remembered: it may still die this term.
  private volatile long deadLeaderTerm = -1;
  // When the last PACE_SAMPLES AppendEntries with entries came, and from whom (LeaderStreamWatch).
  private final Object paceLock = new Object();
  private RaftPeerId entriesSender; // guarded by paceLock
  private final long[] entryNanos = new long[PACE_SAMPLES]; // guarded by paceLock: a ring
  private long entryCount; // guarded by paceLock; a long: an int would wrap after 2^31 appends
  private final ScheduledExecutorService executor = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "holdfast-dead-leader-detector");
    t.setDaemon(true);
    return t;
  });
  // Asks the other survivors in parallel, off the detector's thread.
  private final java.util.concurrent.ExecutorService askers = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "holdfast-dead-leader-ask");
    t.setDaemon(true);
    return t;
  });

  /**
   * @param peerLogs asks another voter where its log ends
   * @param stepMs how long each surviving voter waits after the one before it in the election
   *     order could have started its election; half the minimum election timeout leaves the first
   *     one time to win
   */
  public DeadLeaderDetector(Supplier<RaftServer> server, PeerLogs peerLogs, RaftGroupId groupId, RaftPeerId selfId,
      long stepMs) {
    this.server = server;
    this.peerLogs = peerLogs;
    this.groupId = groupId;
    this.selfId = selfId;
    this.stepMs = stepMs;
  }

  /** An AppendEntries with entries came from {@code peer} (on Ratis's transport thread: kept cheap). */
  void entriesFrom(RaftPeerId peer) {
    long now = System.nanoTime();
    synchronized (paceLock) {
      if (!peer.equals(entriesSender)) {
        entriesSender = peer;
        entryCount = 0;
      }
      entryNanos[(int) (entryCount++ % PACE_SAMPLES)] = now;
    }
  }

  /**
   * The longest a live {@code leader} went without sending this node entries, over its last few
   * appends and up to {@code cutNanos}: within about that, alive, it reaches the other voters
   * again. Long.MAX_VALUE when too few appends came from it to tell.
   */
  long paceMs(RaftPeerId leader, long cutNanos) {
    synchronized (paceLock) {
      if (!leader.equals(entriesSender) || entryCount < PACE_SAMPLES) {
        return Long.MAX_VALUE;
      }
      long longest = 0;
      long newer = cutNanos;
      for (int k = 1; k <= PACE_SAMPLES; k++) {
        long at = entryNanos[(int) ((entryCount - k) % PACE_SAMPLES)];
        longest = Math.max(longest, newer - at);
        newer = at;
      }
      return TimeUnit.NANOSECONDS.toMillis(longest);
    }
  }

  /**
   * How long after the cut the first voter in the election order looks again for signs of life:
   * the leader's pace (the longest of its last gaps) and slack, so that alive it would have reached
   * another voter by then; at least {@link #CONFIRM_MS}, at most a heartbeat interval (half the
   * minimum election timeout, {@code stepMs}) plus slack, which an idle leader keeps to.
   */
  long confirmMs(long paceMs) {
    // A quarter of the interval as slack: a heartbeat late by a pause or a busy core is still seen.
    long heartbeat = stepMs + Math.max(2 * CONFIRM_MARGIN_MS, stepMs / 4);
    if (paceMs >= heartbeat) {
      return Math.max(CONFIRM_MS, heartbeat);
    }
    return Math.max(CONFIRM_MS, Math.min(heartbeat, paceMs + 2 * CONFIRM_MARGIN_MS));
  }

  /**
   * Whether this node and the voters that answered it make a majority of the configuration: only
   * then can it win. A forced election skips pre-vote, and a candidate that cannot win still raises
   * the term, which deposes the leader once the partition heals.
   */
  static boolean quorumAnswered(int voters, int othersAnswered) {
    return 1 + othersAnswered > voters / 2;
  }

  /** A stream of AppendEntries from {@code peer} ended without being completed: its connection may be gone. */
  void streamCut(RaftPeerId peer) {
    long cutNanos = System.nanoTime();
    try {
      executor.execute(() -> {
        try {
          check(peer, cutNanos);
        } catch (RuntimeException e) {
          // a division closing under us: the node is stopping or leaving the group
          LOG.debug("could not check leader {}: {}", peer, e.toString());
        }
      });
    } catch (java.util.concurrent.RejectedExecutionException closing) {
      // the node is stopping
    }
  }

  private void check(RaftPeerId peer, long cutNanos) {
    RaftServer.Division division = division();
    if (division == null) {
      return;
    }
    DivisionInfo info = division.getInfo();
    long term = info.getCurrentTerm();
    if (!info.isFollower() || !peer.equals(info.getLeaderId()) || term == deadLeaderTerm) {
      return;
    }
    RaftPeer leader = division.getRaftConf().getPeer(peer);
    if (leader == null || leader.getAddress() == null) {
      return;
    }
    Probe probe = probe(leader.getAddress());
    if (probe == Probe.ACCEPTED) {
      LOG.debug("the stream from leader {} (term {}) was cut, but its Raft port accepts connections", peer, term);
      return;
    }
    if (probe == Probe.NO_ANSWER) {
      LOG.info("the stream from leader {} (term {}) was cut and its Raft port {} does not answer: "
          + "waiting for the election timeout", peer, term, leader.getAddress());
      return;
    }
    deadLeaderTerm = term;
    List<RaftPeer> survivors = division.getRaftConf().getCurrentPeers().stream()
        .filter(p -> !p.getId().equals(peer))
        .toList();
    if (survivors.stream().noneMatch(p -> p.getId().equals(selfId))) {
      return;   // not a voter
    }
    Map<RaftPeerId, Seen> seen = ask(survivors);
    Map<RaftPeerId, TermIndex> logs = new java.util.LinkedHashMap<>();
    Map<RaftPeerId, Long> contacts = new java.util.HashMap<>();
    for (RaftPeer p : survivors) {
      Seen v = seen.get(p.getId());
      logs.put(p.getId(), p.getId().equals(selfId) ? division.getRaftLog().getLastEntryTermIndex()
          : v == null || v.view() == null ? null : v.view().lastEntry());
      contacts.put(p.getId(), v == null ? cutNanos : Math.max(cutNanos, v.contactWith(peer)));
    }
    List<RaftPeerId> order = electionOrder(logs);
    int rank = order.indexOf(selfId);
    long pace = paceMs(peer, cutNanos);
    long confirm = confirmMs(pace);
    long delay = confirm + rank * stepMs;
    LOG.info("leader {} is gone (its stream was cut and its Raft port {} refuses connections); the voters' last "
        + "entries {}: starting an election in {} ms unless another voter has by then, or one still hears from it "
        + "({})", peer, leader.getAddress(), logs, delay,
        pace == Long.MAX_VALUE ? "it sent entries too seldom to tell its pace" : "it sent entries at most " + pace
            + " ms apart");
    schedule(peer, term, survivors, contacts, cutNanos + TimeUnit.MILLISECONDS.toNanos(confirm - CONFIRM_MS + 4 * stepMs),
        delay, confirm, false);
  }

  /** {@code lookMs}: how long a live leader may go unheard by the others (see confirmMs): the spacing of later looks. */
  private void schedule(RaftPeerId peer, long term, List<RaftPeer> survivors, Map<RaftPeerId, Long> contacts,
      long deadlineNanos, long delayMs, long lookMs, boolean lookedAgain) {
    try {
      executor.schedule(() -> {
        try {
          startElection(peer, term, survivors, contacts, deadlineNanos, lookMs, lookedAgain);
        } catch (RuntimeException e) {
          LOG.debug("could not start an election after leader {} died: {}", peer, e.toString());
        }
      }, delayMs, TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.RejectedExecutionException closing) {
      // the node is stopping
    }
  }

  /** A voter's answer, and when it was asked (its elapsed times count from its answer, which came later). */
  record Seen(PeerView view, long askedAtNanos) {
    /** When it last heard from {@code leader}, on this node's clock (no later than it did); MIN_VALUE if it does not follow it. */
    long contactWith(RaftPeerId leader) {
      if (view == null || !leader.equals(view.leader())) {
        return Long.MIN_VALUE;
      }
      return askedAtNanos - TimeUnit.MILLISECONDS.toNanos(view.leaderElapsedMs());
    }
  }

  /**
   * Asks every other survivor about itself, in parallel (they no longer change their logs: nobody
   * appends without a leader); absent where a voter did not answer in time.
   */
  private Map<RaftPeerId, Seen> ask(List<RaftPeer> survivors) {
    Map<RaftPeerId, java.util.concurrent.CompletableFuture<Seen>> asked = new java.util.LinkedHashMap<>();
    for (RaftPeer p : survivors) {
      if (!p.getId().equals(selfId)) {
        asked.put(p.getId(), java.util.concurrent.CompletableFuture.supplyAsync(() -> {
          long at = System.nanoTime();
          return new Seen(peerLogs.viewOf(p), at);
        }, askers));
      }
    }
    Map<RaftPeerId, Seen> out = new java.util.LinkedHashMap<>();
    long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ASK_TIMEOUT_MS + 100);
    for (Map.Entry<RaftPeerId, java.util.concurrent.CompletableFuture<Seen>> e : asked.entrySet()) {
      try {
        out.put(e.getKey(), e.getValue().get(Math.max(0, end - System.nanoTime()), TimeUnit.NANOSECONDS));
      } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException ignored) {
        // no answer: the order falls back to ids, and there is no evidence of a live leader
      } catch (InterruptedException ie) {
        Thread.currentThread().interrupt();
      }
    }
    return out;
  }

  /**
   * Who tries first: the longest log (Raft refuses a candidate whose log is shorter than the
   * voter's, and a refused candidate's term would stop the others), then the lowest id. Every
   * survivor that got the same answers computes the same order. If a voter did not answer, the
   * order is by id alone: a survivor that cannot ask the others (a firewall, a TLS mistake) must
   * not put itself first while each of the others does the same.
   */
  static List<RaftPeerId> electionOrder(Map<RaftPeerId, TermIndex> lastEntries) {
    boolean allAnswered = lastEntries.values().stream().allMatch(java.util.Objects::nonNull);
    java.util.Comparator<Map.Entry<RaftPeerId, TermIndex>> byLog =
        (a, b) -> allAnswered ? b.getValue().compareTo(a.getValue()) : 0;
    return lastEntries.entrySet().stream()
        .sorted(byLog.thenComparing(e -> e.getKey().toString()))
        .map(Map.Entry::getKey)
        .toList();
  }

  /**
   * Whether a voter heard from {@code leader} again since {@code baselineNanos}, the last contact
   * it had reported (or the cut, before any answer). A dead leader's contacts stop: the last comes
   * with the appends it sent before it died, which a voter finishes within its flush. A live one
   * that is busy goes on appending, and one that is idle heartbeats every half timeout, which a
   * check 40 ms after the cut usually misses (then the cost is one election).
   */
  static boolean advanced(long baselineNanos, Seen now, RaftPeerId leader) {
    long contact = now == null ? Long.MIN_VALUE : now.contactWith(leader);
    return contact != Long.MIN_VALUE && contact - baselineNanos > TimeUnit.MILLISECONDS.toNanos(CONFIRM_MARGIN_MS);
  }

  private void startElection(RaftPeerId deadLeader, long term, List<RaftPeer> survivors,
      Map<RaftPeerId, Long> contacts, long deadlineNanos, long lookMs, boolean lookedAgain) {
    RaftServer.Division division = division();
    if (division == null) {
      return;
    }
    DivisionInfo info = division.getInfo();
    if (!info.isFollower() || info.getCurrentTerm() != term || !deadLeader.equals(info.getLeaderId())) {
      return;   // an election has happened meanwhile
    }
    TermIndex last = division.getRaftLog().getLastEntryTermIndex();
    if (last == null || last.getTerm() != term) {
      // A node still catching up (say, just restarted) holds no entry of the leader's term: it
      // would lose the vote anyway, and Ratis refuses it. The next voter goes one step later.
      LOG.info("not starting an election after leader {} died: this node's log has no entry of term {} yet",
          deadLeader, term);
      return;
    }
    Map<RaftPeerId, Seen> now = ask(survivors);
    int voters = division.getRaftConf().getCurrentPeers().size();
    int answered = (int) now.values().stream().filter(v -> v != null && v.view() != null).count();
    if (!quorumAnswered(voters, answered)) {
      LOG.info("not starting an election after leader {} went: only {} of the other {} voters answered this node, "
          + "which could not win; the election timeout and pre-vote decide", deadLeader, answered, voters - 1);
      if (deadLeaderTerm == term) {
        deadLeaderTerm = -1; // a later cut this term is looked at afresh
      }
      return;
    }
    for (Map.Entry<RaftPeerId, Seen> e : now.entrySet()) {
      Long before = contacts.get(e.getKey());
      if (before != null && advanced(before, e.getValue(), deadLeader)) {
        // Alive: only the link between it and this node is broken (a firewall that rejects looks
        // like a dead process from here); pre-vote, not a forced election, decides from now on.
        Map<RaftPeerId, Long> later = new java.util.HashMap<>(contacts);
        now.forEach((id, v) -> later.put(id, Math.max(later.getOrDefault(id, Long.MIN_VALUE), v.contactWith(deadLeader))));
        // Seen alive, it may go idle any moment: later looks leave room for a heartbeat.
        long nextLookMs = Math.max(lookMs, confirmMs(Long.MAX_VALUE));
        if (System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(nextLookMs) < deadlineNanos) {
          // Said once; then, while the leader stays alive, at debug.
          String msg = "not starting an election yet: {} heard from leader {} {} ms ago, since this node's stream from it "
              + "was cut; looking again in {} ms";
          if (lookedAgain) {
            LOG.debug(msg, e.getKey(), deadLeader, e.getValue().view().leaderElapsedMs(), nextLookMs);
          } else {
            LOG.info(msg, e.getKey(), deadLeader, e.getValue().view().leaderElapsedMs(), nextLookMs);
          }
          schedule(deadLeader, term, survivors, later, deadlineNanos, nextLookMs, nextLookMs, true);
        } else {
          LOG.info("not starting an election: {} still hears from leader {}; only the link between {} and this node "
              + "is broken, and the election timeout applies", e.getKey(), deadLeader, deadLeader);
          if (deadLeaderTerm == term) {
            deadLeaderTerm = -1; // it may still die this term
          }
        }
        return;
      }
    }
    RaftRpcRequestProto rpc = RaftRpcRequestProto.newBuilder()
        .setRequestorId(deadLeader.toByteString())
        .setReplyId(selfId.toByteString())
        .setRaftGroupId(RaftGroupIdProto.newBuilder().setId(groupId.toByteString()))
        .setCallId(callIds.incrementAndGet())
        .build();
    // Our own last entry as the leader's: Ratis starts the election only if our log is no shorter.
    StartLeaderElectionRequestProto request = StartLeaderElectionRequestProto.newBuilder()
        .setServerRequest(rpc)
        .setLeaderLastEntry(last.toProto())
        .build();
    try {
      StartLeaderElectionReplyProto reply = server.get().startLeaderElection(request);
      boolean started = reply.getServerReply().getSuccess();
      LOG.info("election after leader {} died (term {}): {}", deadLeader, term, started ? "started" : "refused by Ratis");
    } catch (IOException | RuntimeException e) {
      LOG.warn("could not start an election after leader {} died: {}", deadLeader, e.toString());
    }
  }

  enum Probe { ACCEPTED, REFUSED, NO_ANSWER }

  /** Whether something listens at {@code address}; only a refusal says that nothing does. */
  static Probe probe(String address) {
    HostPort target;
    try {
      target = HostPort.parse("peer address", address);
    } catch (ConfigException e) {
      return Probe.NO_ANSWER;
    }
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(target.host(), target.port()), PROBE_TIMEOUT_MS);
      return Probe.ACCEPTED;
    } catch (ConnectException e) {
      // Linux also throws this for a connect that timed out in the kernel: only a refusal counts
      String message = String.valueOf(e.getMessage());
      return message.contains("refused") ? Probe.REFUSED : Probe.NO_ANSWER;
    } catch (SocketTimeoutException e) {
      return Probe.NO_ANSWER;
    } catch (IOException | RuntimeException e) {
      // unreachable network, unresolvable name: no evidence either way
      return Probe.NO_ANSWER;
    }
  }

  private RaftServer.Division division() {
    try {
      RaftServer s = server.get();
      return s == null ? null : s.getDivision(groupId);
    } catch (IOException e) {
      return null;
    }
  }

  @Override
  public void close() {
    executor.shutdownNow();
    askers.shutdownNow();
  }
}
