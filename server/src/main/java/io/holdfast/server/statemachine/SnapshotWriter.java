package io.holdfast.server.statemachine;

import io.holdfast.server.state.StateImage;
import java.io.File;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.LongConsumer;
import java.util.function.Supplier;
import org.apache.ratis.server.protocol.TermIndex;
import org.apache.ratis.server.storage.FileInfo;
import org.apache.ratis.statemachine.impl.SimpleStateMachineStorage;
import org.apache.ratis.statemachine.impl.SingleFileSnapshotInfo;
import org.apache.ratis.io.MD5Hash;
import org.apache.ratis.util.MD5FileUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes snapshots on a thread of its own. Ratis asks for a snapshot on its apply thread, so a
 * snapshot written there stops apply for the whole encode, fsync and checksum (hundreds of ms at
 * 100k sessions, every few seconds under load). Here apply pauses only while the state is copied.
 *
 * <p>Ratis learns of a snapshot only once it is durable: {@link #take} answers -1 ("none yet")
 * while a write is under way and reports the finished one on a later call. Ratis keeps asking
 * while the log is past its threshold, and purges the log only up to what was reported, so a
 * crash at any point loses nothing that is not also in the log.
 */
final class SnapshotWriter implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(SnapshotWriter.class);

  /** The state copied under the apply lock, and the entry it reflects. */
  record Capture(TermIndex at, StateImage image) {}

  private final SimpleStateMachineStorage storage;
  private final LongConsumer writtenBytes;
  private final ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "holdfast-snapshot-writer");
    t.setDaemon(true);
    return t;
  });
  private final long quiesceTimeoutMs;
  private final long retryAfterFailureNanos;
  // Guarded by this.
  private Future<?> inFlight;
  /** When the last write failed (nanoTime), or 0: the next try waits, see {@link #take}. */
  private long failedAtNanos;
  private long durableUnreported = -1;
  /** Raised by each quiesce: a write started before it must not publish (its index is older). */
  private long generation;

  SnapshotWriter(SimpleStateMachineStorage storage, LongConsumer writtenBytes) {
    this(storage, writtenBytes, 60_000, 30_000);
  }

  SnapshotWriter(SimpleStateMachineStorage storage, LongConsumer writtenBytes, long quiesceTimeoutMs,
      long retryAfterFailureMs) {
    this.storage = storage;
    this.writtenBytes = writtenBytes;
    this.quiesceTimeoutMs = quiesceTimeoutMs;
    this.retryAfterFailureNanos = TimeUnit.MILLISECONDS.toNanos(retryAfterFailureMs);
  }

  /**
   * Ratis's takeSnapshot: the index of a snapshot finished since the last call, or -1. Starts a
   * write of {@code capture} when none is under way and none is waiting to be reported.
   */
  synchronized long take(Supplier<Capture> capture) {
    if (durableUnreported >= 0) {
      long i = durableUnreported;
      durableUnreported = -1;
      return i;
    }
    if (inFlight != null && !inFlight.isDone()) {
      return -1;
    }
    if (failedAtNanos != 0 && System.nanoTime() - failedAtNanos < retryAfterFailureNanos) {
      // Ratis asks after every apply while the log is past its threshold: each try copies the whole
      // state under the apply lock, and on a full disk each would fill it again.
      return -1;
    }
    Capture c = capture.get();
    if (c.at() == null || c.at().getIndex() <= 0) {
      return -1;
    }
    long copiedAt = System.nanoTime();
    long gen = generation;
    try {
      inFlight = thread.submit(() -> write(c, copiedAt, gen));
    } catch (RejectedExecutionException closed) {
      // Asked at shutdown after close: the log covers everything, and an exception here would
      // stop Ratis's apply thread.
    }
    return -1;
  }

  private void write(Capture c, long copiedAt, long gen) {
    // A temporary file moved into place: a crash never leaves a torn snapshot that looks complete.
    File target = storage.getSnapshotFile(c.at().getTerm(), c.at().getIndex());
    Path tmp = target.toPath().resolveSibling(target.getName() + ".tmp");
    try {
      byte[] bytes = SnapshotCodec.encode(c.image());
      Files.write(tmp, bytes);
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
        ch.force(true);
      }
      // The checksum is computed before the move and saved right after it: Ratis's cleanup of old
      // snapshots runs meanwhile on the apply thread, and warns of a snapshot it finds without one.
      MD5Hash md5 = MD5Hash.newInstance(MD5FileUtil.newMD5().digest(bytes));
      Files.move(tmp, target.toPath(), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      MD5FileUtil.saveMD5File(target, md5);
      // The rename is durable only once the directory is: reported before that, Ratis may purge
      // the log up to it, and a power cut could leave neither the snapshot nor the log it replaced.
      try (FileChannel dir = FileChannel.open(target.toPath().getParent(), StandardOpenOption.READ)) {
        dir.force(true);
      }
      synchronized (this) {
        if (gen != generation) {
          // The state was replaced meanwhile (a snapshot from the leader, at a later index): this
          // older file is only a file now, which retention removes; Ratis must never hear of it.
          LOG.warn("A snapshot at index {} finished after the state was replaced; not reported", c.at().getIndex());
          return;
        }
        storage.updateLatestSnapshot(new SingleFileSnapshotInfo(new FileInfo(target.toPath(), md5), c.at()));
        writtenBytes.accept(bytes.length);
        durableUnreported = c.at().getIndex();
        failedAtNanos = 0;
      }
      LOG.info("Took snapshot at index {} ({} bytes, written in {} ms off the apply thread)", c.at().getIndex(),
          bytes.length, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - copiedAt));
    } catch (IOException | RuntimeException e) {
      // The log is kept (nothing was reported). A partial file goes: on a full disk it would take
      // what the log needs next.
      try {
        Files.deleteIfExists(tmp);
      } catch (IOException | RuntimeException ignored) {
        // start-up removes it (SnapshotStorage)
      }
      synchronized (this) {
        if (gen == generation) {
          failedAtNanos = Math.max(1, System.nanoTime());
        }
      }
      LOG.error("Snapshot at index {} could not be written; trying again in {} s", c.at().getIndex(),
          TimeUnit.NANOSECONDS.toSeconds(retryAfterFailureNanos), e);
    }
  }

  /**
   * Forgets a write under way or finished and not yet reported, without waiting for it: for Ratis's
   * pause before a snapshot install, which it calls holding its server lock (votes and appends wait
   * meanwhile). The write, if it goes on, is only a file in the old directory, never reported.
   */
  void abandon() {
    synchronized (this) {
      generation++;
      durableUnreported = -1;
      failedAtNanos = 0; // a failure of the abandoned write says nothing of the new directory
    }
  }

  /**
   * Waits for a write under way and forgets a finished one not yet reported: before a snapshot
   * from the leader replaces this node's state (Ratis then sets its snapshot index itself, and an
   * older index reported after that would break its bookkeeping).
   */
  void quiesce() {
    Future<?> f;
    synchronized (this) {
      f = inFlight;
    }
    if (f != null) {
      try {
        f.get(quiesceTimeoutMs, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (ExecutionException | TimeoutException e) {
        LOG.warn("A snapshot write did not finish before the state was replaced: {}", e.toString());
      }
    }
    synchronized (this) {
      generation++;
      durableUnreported = -1;
      failedAtNanos = 0;
    }
  }

  /** Lets a write under way finish (it is a temporary file until the end), then stops. */
  @Override
  public void close() {
    thread.shutdown();
    try {
      if (!thread.awaitTermination(30, TimeUnit.SECONDS)) {
        LOG.warn("A snapshot write was still running at shutdown; the log still covers it");
        thread.shutdownNow();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
