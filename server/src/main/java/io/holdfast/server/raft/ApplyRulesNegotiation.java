package io.holdfast.server.raft;

import io.holdfast.server.state.Command;
import io.holdfast.server.state.LogEntry;
import io.holdfast.server.state.Result;
import io.holdfast.server.statemachine.HoldfastStateMachine;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import org.apache.ratis.grpc.GrpcTlsConfig;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.RaftConfiguration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The leader's side of a rolling upgrade: it writes entries under the cluster's apply rules, not
 * its own build's, and raises the cluster's rules (a {@link Command.RaiseApplyRules} entry) only
 * once every voter has said it can apply them. Without this, a newer node that won an election
 * mid-rollout wrote entries its older fellow members had to stop at, and a majority of old
 * members meant an outage (etcd's cluster version solves the same problem).
 *
 * <p>A voter that does not answer (down, unreachable, or a build from before this question) counts
 * as knowing {@link LogEntry#NEGOTIATED_FROM} only. Nothing is asked while the cluster already
 * writes this build's rules, which is the steady state.
 */
final class ApplyRulesNegotiation {
  private static final Logger LOG = LoggerFactory.getLogger(ApplyRulesNegotiation.class);
  /** How long one voter has to answer. */
  static final long ASK_TIMEOUT_MS = 2_000;
  /** The longest a round may take, raise included, before the next one may start. */
  static final long ROUND_TIMEOUT_MS = 30_000;

  /** What the negotiation needs of this node's Raft server. */
  interface Node {
    boolean isLeader();

    RaftPeerId selfId();

    /** The current configuration; null while unknown. */
    RaftConfiguration configuration();

    CompletableFuture<Result> submit(Command command);

    /**
     * Claims the leader for a raise, which must not overlap a change of members: a node being
     * added is caught up before it is in the configuration, so no round asks it. Returns what
     * lets go of the claim, or null while a member change is under way.
     */
    Runnable beginRaise();
  }

  private final Node node;
  private final HoldfastStateMachine stateMachine;
  private final Function<RaftPeer, CompletableFuture<Integer>> ask;
  private final AtomicBoolean asking = new AtomicBoolean();
  private volatile Map<RaftPeerId, Integer> lastAnswers = Map.of();

  /** Asks each node on its Raft port ({@link BuildRulesService}), with the peers' TLS ({@code null}: none). */
  ApplyRulesNegotiation(Node node, HoldfastStateMachine stateMachine, GrpcTlsConfig peerTls) {
    this.node = node;
    this.stateMachine = stateMachine;
    this.ask = peer -> askBuild(peer, peerTls);
  }

  /** For tests: {@code ask} answers for each voter. */
  ApplyRulesNegotiation(Node node, HoldfastStateMachine stateMachine, Function<RaftPeer, CompletableFuture<Integer>> ask) {
    this.node = node;
    this.stateMachine = stateMachine;
    this.ask = ask;
  }

  /** What each voter said at the last round (this node included), for the status page and logs. */
  Map<RaftPeerId, Integer> lastAnswers() {
    return lastAnswers;
  }

  /**
   * One round, called periodically: if this node leads and the cluster writes older rules than it
   * knows, asks every voter and raises the rules to the lowest answer. Completes with the rules
   * proposed, or 0 when nothing was.
   */
  CompletableFuture<Integer> check() {
    int writes = stateMachine.writeRules();
    int knows = stateMachine.supportedRules();
    if (writes >= knows || !node.isLeader()) {
      return CompletableFuture.completedFuture(0);
    }
    RaftConfiguration conf = node.configuration();
    if (conf == null) {
      return CompletableFuture.completedFuture(0);
    }
    if (!asking.compareAndSet(false, true)) {
      return CompletableFuture.completedFuture(0);
    }
    CompletableFuture<Integer> round;
    try {
      round = round(conf, knows);
    } catch (RuntimeException e) {
      round = CompletableFuture.failedFuture(e);
    }
    // A round that hangs (a submit that never completes) must not stop every later one.
    return round.orTimeout(ROUND_TIMEOUT_MS, TimeUnit.MILLISECONDS).handle((r, error) -> {
      asking.set(false);
      if (error != null) {
        LOG.info("the apply rules round failed ({}); trying again later", error.toString());
        return 0;
      }
      return r;
    });
  }

  private CompletableFuture<Integer> round(RaftConfiguration conf, int knows) {
    // Voters of both configurations while one changes: an entry must be applicable by either.
    Map<RaftPeerId, RaftPeer> voters = new LinkedHashMap<>();
    conf.getCurrentPeers().forEach(p -> voters.put(p.getId(), p));
    conf.getPreviousPeers().forEach(p -> voters.put(p.getId(), p));
    Map<RaftPeerId, CompletableFuture<Integer>> answers = new LinkedHashMap<>();
    for (RaftPeer p : voters.values()) {
      answers.put(p.getId(), p.getId().equals(node.selfId()) ? CompletableFuture.completedFuture(knows) : knownBy(p));
    }
    return CompletableFuture.allOf(answers.values().toArray(new CompletableFuture<?>[0])).thenCompose(done -> {
      Map<RaftPeerId, Integer> said = new LinkedHashMap<>();
      answers.forEach((id, f) -> said.put(id, f.join()));
      lastAnswers = Map.copyOf(said);
      int lowest = said.values().stream().mapToInt(Integer::intValue).min().orElse(LogEntry.NEGOTIATED_FROM);
      int target = Math.min(lowest, knows);
      if (target <= stateMachine.writeRules() || !node.isLeader()) {
        LOG.debug("apply rules stay at {}: the voters know {}", stateMachine.writeRules(), said);
        return CompletableFuture.completedFuture(0);
      }
      Runnable letGo = node.beginRaise();
      if (letGo == null) {
        LOG.info("Every voter knows apply rules {} or later, but a member change (or an earlier raise) is under way:"
            + " raising them once it is over", target);
        return CompletableFuture.completedFuture(0);
      }
      // The members may have changed while they were asked: only the configuration asked counts.
      // Read after the claim, so no member change can start in between.
      RaftConfiguration now = node.configuration();
      if (now == null || now.getLogEntryIndex() != conf.getLogEntryIndex()) {
        letGo.run();
        LOG.debug("the configuration changed during the apply rules round; asking again next time");
        return CompletableFuture.completedFuture(0);
      }
      LOG.info("Every voter knows apply rules {} or later ({}): raising the cluster's rules from {}", target, said,
          stateMachine.writeRules());
      CompletableFuture<Result> raised;
      try {
        raised = node.submit(new Command.RaiseApplyRules(target));
      } catch (RuntimeException e) {
        raised = CompletableFuture.failedFuture(e);
      }
      // Held until the submit settles (commit, failure or loss of leadership), not the round's
      // timeout: a raise that may still commit must not let a member change read the old rules.
      return raised.handle((r, error) -> {
        letGo.run();
        if (error != null) {
          LOG.info("raising the apply rules to {} did not go through ({}); trying again later", target, error.toString());
          return 0;
        }
        return target;
      });
    });
  }

  /**
   * The highest apply rules {@code peer}'s build knows; {@link LogEntry#NEGOTIATED_FROM} when it
   * does not answer (down, unreachable, or a build from before the question).
   */
  CompletableFuture<Integer> knownBy(RaftPeer peer) {
    return ask(peer).thenApply(Known::rules);
  }

  /** What {@code peer} said, or why it said nothing (then it counts as knowing NEGOTIATED_FROM). */
  record Known(int rules, String unanswered) {}

  /** Asks {@code peer}; never fails: a peer that does not answer is known by the reason. */
  CompletableFuture<Known> ask(RaftPeer peer) {
    CompletableFuture<Integer> asked;
    try {
      asked = ask.apply(peer);
    } catch (RuntimeException e) {
      asked = CompletableFuture.failedFuture(e);
    }
    return asked.handle((rules, error) -> {
      if (error != null || rules == null || rules <= 0) {
        Throwable cause = error instanceof java.util.concurrent.CompletionException && error.getCause() != null
            ? error.getCause() : error;
        return new Known(LogEntry.NEGOTIATED_FROM, cause == null ? "an empty answer" : cause.toString());
      }
      return new Known(rules, null);
    });
  }

  private static CompletableFuture<Integer> askBuild(RaftPeer peer, GrpcTlsConfig peerTls) {
    return BuildRulesService.ask(peer.getAddress(), peerTls, ASK_TIMEOUT_MS).thenApply(answer -> {
      // A node at another address than the configuration says (moved, or a port reused) is not the one asked about.
      if (!answer.nodeId().equals(peer.getId().toString())) {
        throw new IllegalStateException(peer.getAddress() + " is " + answer.nodeId() + ", not " + peer.getId());
      }
      return answer.supported();
    });
  }
}
