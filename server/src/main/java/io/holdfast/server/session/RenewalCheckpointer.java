package io.holdfast.server.session;

import io.holdfast.server.raft.RaftCallException;
import io.holdfast.server.raft.RaftNode;
import io.holdfast.server.state.ErrorCode;
import io.holdfast.server.state.Command;
import io.holdfast.server.state.Result;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns keepalives into renewal checkpoints: one log entry per batch, listing the sessions renewed
 * since the previous one. A keepalive is acknowledged only when its checkpoint is committed and
 * applied, which proves this node was a leader backed by a majority when it renewed the session
 * (a deposed leader cannot commit) and puts every acknowledged renewal in the log, where the next
 * leader finds it.
 *
 * <p>One checkpoint is in flight at a time, so batches grow with load (group commit). While
 * sessions exist, an empty checkpoint goes out at least every {@code intervalMs} to keep the log's
 * clock moving; that bounds how much a failover can extend a session.
 */
public final class RenewalCheckpointer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(RenewalCheckpointer.class);

  /** About 0.6 MB of session ids per entry, well inside the largest entry a node accepts. */
  static final int MAX_IDS_PER_CHECKPOINT = 65_536;

  private final RaftNode raft;
  private final long intervalMs;
  private final IntSupplier sessionCount;
  private final Object lock = new Object();
  private Map<Long, List<CompletableFuture<Boolean>>> pending = new HashMap<>();
  private final Thread thread;
  private volatile boolean running = true;

  public RenewalCheckpointer(RaftNode raft, long intervalMs, IntSupplier sessionCount) {
    this.raft = raft;
    this.intervalMs = intervalMs;
    this.sessionCount = sessionCount;
    this.thread = new Thread(this::run, "holdfast-checkpointer");
    thread.setDaemon(true);
  }

  public void start() {
    thread.start();
  }

  /**
   * Queues a renewal. The future completes with true once committed, false if the session no
   * longer exists, or exceptionally if this node cannot commit (not the leader).
   */
  public CompletableFuture<Boolean> renew(long sessionId) {
    CompletableFuture<Boolean> f = new CompletableFuture<>();
    synchronized (lock) {
      pending.computeIfAbsent(sessionId, k -> new ArrayList<>(1)).add(f);
      lock.notifyAll();
    }
    return f;
  }

  private void run() {
    long lastProposal = System.nanoTime();
    while (running) {
      try {
        lastProposal = step(lastProposal);
      } catch (InterruptedException e) {
        return;
      } catch (RuntimeException e) {
        // E.g. the Raft division is gone: this thread must not die with keepalives still coming.
        LOG.warn("Keepalive checkpointer: {}", e.toString());
        try {
          Thread.sleep(intervalMs);
        } catch (InterruptedException stop) {
          return;
        }
      }
    }
  }

  /** One round: waits for renewals (or the interval) and proposes them; returns the new lastProposal. */
  private long step(long lastProposal) throws InterruptedException {
    Map<Long, List<CompletableFuture<Boolean>>> batch;
    synchronized (lock) {
      long waitMs = intervalMs - TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - lastProposal);
      if (pending.isEmpty() && waitMs > 0) {
        lock.wait(waitMs);
        return lastProposal;
      }
      batch = pending;
      pending = new HashMap<>();
    }
    try {
      return propose(batch, lastProposal);
    } catch (RuntimeException e) {
      failAll(batch, e); // whatever went wrong, no keepalive is left waiting
      throw e;
    }
  }

  private long propose(Map<Long, List<CompletableFuture<Boolean>>> batch, long lastProposal)
      throws InterruptedException {
    if (!raft.isLeader()) {
      failAll(batch, raft.notLeader("keepalives go to the leader"));
      return batch.isEmpty() ? System.nanoTime() : lastProposal;
    }
    if (batch.isEmpty() && sessionCount.getAsInt() == 0) {
      return System.nanoTime();
    }
    long proposedAt = System.nanoTime();
    long[] ids = new long[batch.size()];
    int n = 0;
    for (long id : batch.keySet()) {
      ids[n++] = id;
    }
    java.util.Arrays.sort(ids);
    try {
      // Entries have a size limit (RaftNode.maxEntryBytes): a million sessions renewed in one
      // round would exceed it, and then every round would. Large rounds go out in parts.
      List<CompletableFuture<Result>> parts = new ArrayList<>();
      for (int from = 0; from < ids.length || from == 0; from += MAX_IDS_PER_CHECKPOINT) {
        int to = Math.min(ids.length, from + MAX_IDS_PER_CHECKPOINT);
        parts.add(raft.submit(new Command.Checkpoint(java.util.Arrays.copyOfRange(ids, from, to))));
      }
      Set<Long> missing = new HashSet<>();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      for (CompletableFuture<Result> part : parts) {
        Result r = part.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        if (!(r instanceof Result.CheckpointApplied c)) {
          throw new IllegalStateException("a checkpoint answered " + r);
        }
        missing.addAll(c.missingSessionIds());
      }
      batch.forEach((id, fs) -> fs.forEach(f -> f.complete(!missing.contains(id))));
    } catch (InterruptedException e) {
      failAll(batch, e);
      throw e;
    } catch (Exception e) {
      LOG.debug("Checkpoint of {} renewals failed: {}", ids.length, e.toString());
      failAll(batch, e);
    }
    return proposedAt;
  }

  private static void failAll(Map<Long, List<CompletableFuture<Boolean>>> batch, Throwable e) {
    batch.values().forEach(fs -> fs.forEach(f -> f.completeExceptionally(e)));
  }

  @Override
  public void close() {
    running = false;
    thread.interrupt();
    synchronized (lock) {
      failAll(pending, new RaftCallException(ErrorCode.NO_LEADER, null, "server closing"));
      pending.clear();
    }
  }
}
