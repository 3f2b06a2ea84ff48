package io.holdfast.server.statemachine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.server.backup.RestoreSeed;
import io.holdfast.server.state.StateImage;
import io.holdfast.server.state.TestLog;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.storage.RaftStorage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A node's first start from a restore seed, and a restart after a crash in the middle of it. */
class RestoreSeedInstallTest {
  @TempDir
  Path dir;

  /** Only its id is asked for while the state machine starts. */
  static RaftServer server() {
    return (RaftServer) java.lang.reflect.Proxy.newProxyInstance(RaftServer.class.getClassLoader(),
        new Class<?>[] {RaftServer.class}, (proxy, method, args) -> method.getName().equals("getId")
            ? RaftPeerId.valueOf("n1") : null);
  }

  /** A backup of a state with one held lock, as a restore turns it into a seed (one epoch on). */
  private static StateImage seedImage() {
    TestLog log = new TestLog();
    log.acquireFree(log.open(), "fleet/config");
    return RestoreSeed.seedImage(log.state().image());
  }

  private Path writeSeed(StateImage seedImage) throws java.io.IOException {
    Path seed = dir.resolve("restore/seed.snapshot");
    Files.createDirectories(seed.getParent());
    Files.write(seed, SnapshotCodec.encode(seedImage));
    return seed;
  }

  @Test
  void aCrashBetweenTheSeedsSnapshotAndItsRenameLeavesANodeThatStillStarts() throws Exception {
    StateImage seedImage = seedImage();
    Path seed = writeSeed(seedImage);
    Path installed = seed.resolveSibling("seed.snapshot.installed");

    RaftStorage storage = TestRaftStorage.open(dir.resolve("raft"), RaftStorage.StartupOption.FORMAT);
    try (HoldfastStateMachine first = new HoldfastStateMachine()) {
      first.installRestoreSeedFrom(seed);
      first.initialize(server(), RaftGroupId.randomId(), storage);
      assertEquals(seedImage.lastAppliedIndex(), first.getLastAppliedTermIndex().getIndex());
    }
    assertTrue(Files.exists(installed));
    assertFalse(Files.exists(seed));
    try (var files = Files.list(storage.getStorageDir().getStateMachineDir().toPath())) {
      assertTrue(files.noneMatch(f -> f.toString().endsWith(".tmp")), "no temporary file left");
    }

    // The crash: the snapshot is in place, the seed was not yet renamed.
    Files.move(installed, seed);
    try (HoldfastStateMachine again = new HoldfastStateMachine()) {
      again.installRestoreSeedFrom(seed);
      again.initialize(server(), RaftGroupId.randomId(), storage);
      assertEquals(seedImage.lastAppliedIndex(), again.getLastAppliedTermIndex().getIndex());
      assertEquals(1L, (long) again.read(s -> s.fencingEpoch()), "the restored state, one epoch on");
    }
    assertTrue(Files.exists(installed), "the seed is marked installed this time");
    assertFalse(Files.exists(seed));
    storage.close();
  }

  /**
   * A restored node (epoch 1) is sent a snapshot in epoch 0, as by a member of the replaced cluster
   * that came back and won an election: it stops rather than take that state and its tokens.
   */
  @Test
  void aSnapshotFromAnotherEpochDoesNotReplaceARestoredNodesState() throws Exception {
    StateImage seedImage = seedImage();
    Path seed = writeSeed(seedImage);

    TestLog old = new TestLog();
    for (int i = 0; i < 50; i++) {
      old.open();
    }
    StateImage oldClusters = old.state().image();
    assertEquals(0, oldClusters.fencingEpoch());

    RaftStorage storage = TestRaftStorage.open(dir.resolve("raft"), RaftStorage.StartupOption.FORMAT);
    try (HoldfastStateMachine sm = new HoldfastStateMachine()) {
      sm.installRestoreSeedFrom(seed);
      sm.initialize(server(), RaftGroupId.randomId(), storage);
      java.util.List<Throwable> stopped = new java.util.concurrent.CopyOnWriteArrayList<>();
      sm.onUnappliable(stopped::add);
      // What Ratis leaves in the state machine's directory before it asks for a reload.
      java.io.File sent = storage.getStorageDir().getStateMachineDir().toPath().resolve(sentName(seedImage)).toFile();
      Files.write(sent.toPath(), SnapshotCodec.encode(oldClusters));
      org.apache.ratis.util.MD5FileUtil.computeAndSaveMd5ForFile(sent);

      sm.pause();
      java.io.IOException e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class, sm::reinitialize);
      assertTrue(e.getMessage().contains("fencing epoch 0") && e.getMessage().contains("epoch 1"), e.getMessage());
      assertEquals(1, stopped.size(), "the node is told to stop");
      assertEquals(1L, (long) sm.read(s -> s.fencingEpoch()), "the restored state is kept");
      assertEquals(seedImage.lastAppliedIndex(), (long) sm.read(s -> s.lastAppliedIndex()));
    }
    // Ratis had already swapped the directory: only the sent snapshot is left. Restarted (systemd
    // does), the node must not take it as its own either.
    try (var files = Files.list(storage.getStorageDir().getStateMachineDir().toPath())) {
      for (Path f : files.toList()) {
        if (!f.getFileName().toString().startsWith(sentName(seedImage))) {
          Files.delete(f);
        }
      }
    }
    try (HoldfastStateMachine again = new HoldfastStateMachine()) {
      java.io.IOException e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
          () -> again.initialize(server(), RaftGroupId.randomId(), storage));
      assertTrue(e.getMessage().contains("fencing epoch 0") && e.getMessage().contains("epoch 1"), e.getMessage());
    }
    storage.close();
  }

  private static String sentName(StateImage seed) {
    return org.apache.ratis.statemachine.impl.SimpleStateMachineStorage.getSnapshotFileName(57,
        seed.lastAppliedIndex() + 500);
  }
}
