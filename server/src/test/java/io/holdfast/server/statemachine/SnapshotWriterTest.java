package io.holdfast.server.statemachine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.server.state.HoldfastState;
import io.holdfast.server.state.RandomCommandLog;
import io.holdfast.server.state.StateImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.apache.ratis.server.protocol.TermIndex;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.impl.SimpleStateMachineStorage;
import org.apache.ratis.statemachine.impl.SingleFileSnapshotInfo;
import org.apache.ratis.util.MD5FileUtil;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The contract that keeps an asynchronous snapshot safe: Ratis hears of a snapshot (and may purge
 * the log before it) only once the file, its checksum and the storage's pointer are in place; it
 * hears of each one once; and no second copy is taken while one is being written.
 */
class SnapshotWriterTest {
  @TempDir
  Path dir;
  RaftStorage raftStorage;
  SimpleStateMachineStorage storage;
  SnapshotWriter writer;
  final AtomicInteger captures = new AtomicInteger();
  HoldfastState state;

  @BeforeEach
  void setUp() throws Exception {
    raftStorage = TestRaftStorage.open(dir, RaftStorage.StartupOption.FORMAT);
    storage = new SnapshotStorage();
    storage.init(raftStorage);
    writer = new SnapshotWriter(storage, n -> { });
    state = new HoldfastState();
    for (RandomCommandLog.Step step : RandomCommandLog.generate(5, 500).steps()) {
      state.apply(step.entry(), e -> { });
    }
  }

  @AfterEach
  void tearDown() throws Exception {
    writer.close();
    raftStorage.close();
  }

  private Supplier<SnapshotWriter.Capture> capture(long term, long index) {
    return () -> {
      captures.incrementAndGet();
      return new SnapshotWriter.Capture(TermIndex.valueOf(term, index), state.image());
    };
  }

  /** Calls take as Ratis's apply loop would, until it reports an index. */
  private long takeUntilReported(Supplier<SnapshotWriter.Capture> c) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    long i;
    while ((i = writer.take(c)) < 0) {
      assertTrue(System.nanoTime() < deadline, "the snapshot was never reported");
      Thread.sleep(1);
    }
    return i;
  }

  /**
   * A write that fails leaves no partial file (on a full disk it would take what the log needs) and
   * is not tried again at once: Ratis asks after every apply, and each try copies the whole state.
   */
  @Test
  void aFailedWriteLeavesNoPartialFileAndWaitsBeforeTheNextTry() throws Exception {
    // The move into place fails: a non-empty directory holds the snapshot's name.
    Path target = storage.getSnapshotFile(3, 500).toPath();
    Files.createDirectories(target.resolve("in-the-way"));
    // Ratis asks again and again, for a second: the write fails within milliseconds of the first ask.
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
    while (System.nanoTime() < end) {
      assertEquals(-1, writer.take(capture(3, 500)));
      Thread.sleep(5);
    }
    assertEquals(1, captures.get(), "no second copy of the state within the wait after a failure");
    try (var files = Files.list(target.getParent())) {
      assertEquals(List.of(), files.filter(f -> f.getFileName().toString().endsWith(".tmp")).toList(),
          "the partial file is gone");
    }
  }

  @Test
  void aSnapshotIsReportedOnceAndOnlyWhenDurable() throws Exception {
    assertEquals(-1, writer.take(capture(3, 500)), "the first call only starts the write");
    long reported = takeUntilReported(capture(3, 500));
    assertEquals(500, reported);
    assertEquals(1, captures.get(), "no second copy while the first was being written");
    // Everything a restart or a follower install needs is there at the moment of the report.
    SingleFileSnapshotInfo latest = storage.getLatestSnapshot();
    assertNotNull(latest);
    assertEquals(TermIndex.valueOf(3, 500), latest.getTermIndex());
    Path file = latest.getFile().getPath();
    MD5FileUtil.verifySavedMD5(file.toFile(), latest.getFile().getFileDigest());
    StateImage decoded = SnapshotCodec.decode(Files.readAllBytes(file));
    assertEquals(state.image(), decoded);
    try (var files = Files.list(file.getParent())) {
      assertTrue(files.noneMatch(f -> f.toString().endsWith(".tmp")), "no temporary file left behind");
    }
    // Reported once: the next call starts the next snapshot rather than repeating 500.
    assertEquals(-1, writer.take(capture(3, 900)));
    assertEquals(900, takeUntilReported(capture(3, 900)));
    assertEquals(2, captures.get());
  }

  @Test
  void quiesceWaitsForTheWriteAndForgetsAnUnreportedIndex() throws Exception {
    assertEquals(-1, writer.take(capture(2, 700)));
    writer.quiesce();
    // The write finished (quiesce waited), but a snapshot install would now own the index; 700
    // must not be reported after it.
    assertEquals(TermIndex.valueOf(2, 700), storage.getLatestSnapshot().getTermIndex());
    assertEquals(-1, writer.take(capture(4, 800)), "a new write starts; 700 is not reported");
    assertEquals(800, takeUntilReported(capture(4, 800)));
  }

  @Test
  void nothingIsCapturedBeforeTheFirstEntry() {
    assertEquals(-1, writer.take(() -> new SnapshotWriter.Capture(null, state.image())));
    assertEquals(-1, writer.take(() -> new SnapshotWriter.Capture(TermIndex.valueOf(0, 0), state.image())));
    assertEquals(null, storage.getLatestSnapshot());
  }

  @Test
  void aWriteThatOutlastsTheStateItWasTakenFromIsNeverReported() throws Exception {
    java.util.concurrent.CountDownLatch entered = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
    java.util.List<SingleFileSnapshotInfo> published = new java.util.concurrent.CopyOnWriteArrayList<>();
    SimpleStateMachineStorage slow = new SimpleStateMachineStorage() {
      @Override
      public SingleFileSnapshotInfo updateLatestSnapshot(SingleFileSnapshotInfo info) {
        if (info != null) { // init publishes what it found on disk: nothing here
          published.add(info);
        }
        return super.updateLatestSnapshot(info);
      }

      @Override
      public java.io.File getSnapshotFile(long term, long endIndex) {
        entered.countDown();
        try {
          release.await(30, TimeUnit.SECONDS); // a stalled disk
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        return super.getSnapshotFile(term, endIndex);
      }
    };
    slow.init(raftStorage);
    try (SnapshotWriter w = new SnapshotWriter(slow, n -> { }, 20_000, 30_000)) {
      assertEquals(-1, w.take(capture(3, 500)));
      assertTrue(entered.await(30, TimeUnit.SECONDS));
      // A snapshot from the leader is installed; the write is still stuck. Ratis's pause holds its
      // server lock: it must not wait for the write.
      long before = System.nanoTime();
      w.abandon();
      assertTrue(System.nanoTime() - before < TimeUnit.SECONDS.toNanos(5), "abandon waited for the write");
      release.countDown();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (System.nanoTime() < deadline) {
        assertEquals(-1, w.take(() -> new SnapshotWriter.Capture(null, state.image())), "the stale index is never reported");
        Thread.sleep(5);
      }
      assertEquals(List.of(), published, "nor made the storage's latest");
    }
  }
}
