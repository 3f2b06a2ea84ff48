package io.holdfast.server.statemachine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.server.state.StateImage;
import io.holdfast.server.state.TestLog;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.impl.SimpleStateMachineStorage;
import org.apache.ratis.util.MD5FileUtil;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A node restarts after a crash that cut SnapshotWriter short, at either of its two steps. */
class SnapshotCrashRecoveryTest {
  @TempDir
  Path dir;

  @Test
  void aSnapshotMovedIntoPlaceWithoutItsChecksumStillLoads() throws Exception {
    TestLog log = new TestLog();
    long session = log.open();
    log.acquireFree(session, "fleet/config");
    StateImage image = log.state().image();

    RaftStorage storage = TestRaftStorage.open(dir, RaftStorage.StartupOption.FORMAT);
    Path smDir = storage.getStorageDir().getStateMachineDir().toPath();
    // The crash came after the move and before the checksum was saved...
    File snapshot = smDir.resolve(SimpleStateMachineStorage.getSnapshotFileName(image.lastAppliedTerm(),
        image.lastAppliedIndex())).toFile();
    Files.write(snapshot.toPath(), SnapshotCodec.encode(image));
    // ...and an earlier one was cut short before its move.
    Path torn = smDir.resolve(SimpleStateMachineStorage.getSnapshotFileName(1, 1) + ".tmp");
    Files.write(torn, new byte[] {1, 2});

    try (HoldfastStateMachine sm = new HoldfastStateMachine()) {
      sm.initialize(RestoreSeedInstallTest.server(), RaftGroupId.randomId(), storage);
      assertEquals(image.lastAppliedIndex(), sm.getLastAppliedTermIndex().getIndex());
      assertEquals(1, (int) sm.read(s -> s.heldLocks(session).size()),
          "the session holds its lock, as the snapshot had it");
    }
    assertTrue(MD5FileUtil.getDigestFileForFile(snapshot).exists(), "its checksum is saved for the next start");
    assertFalse(Files.exists(torn), "the torn temporary file is gone");
    storage.close();
  }

  @Test
  void aSnapshotWhoseBytesNoLongerMatchTheirChecksumIsNotLoaded() throws Exception {
    TestLog log = new TestLog();
    long session = log.open();
    log.acquireFree(session, "fleet/config");
    log.apply(new io.holdfast.server.state.Command.Put("p1", "fleet/setting", "blue".getBytes(), -1, "", 0, 0));
    StateImage image = log.state().image();

    RaftStorage storage = TestRaftStorage.open(dir, RaftStorage.StartupOption.FORMAT);
    Path smDir = storage.getStorageDir().getStateMachineDir().toPath();
    File snapshot = smDir.resolve(SimpleStateMachineStorage.getSnapshotFileName(image.lastAppliedTerm(),
        image.lastAppliedIndex())).toFile();
    byte[] bytes = SnapshotCodec.encode(image);
    Files.write(snapshot.toPath(), bytes);
    MD5FileUtil.computeAndSaveMd5ForFile(snapshot);
    // One bit of the value flips at rest: the file still decodes, to "clue".
    int at = indexOf(bytes, "blue".getBytes());
    bytes[at] ^= 0x01;
    Files.write(snapshot.toPath(), bytes);
    assertEquals("clue", new String(SnapshotCodec.decode(bytes).kv().get(0).value()), "still decodes");

    try (HoldfastStateMachine sm = new HoldfastStateMachine()) {
      java.io.IOException e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
          () -> sm.initialize(RestoreSeedInstallTest.server(), RaftGroupId.randomId(), storage));
      assertTrue(e.getMessage().contains("is damaged"), e.getMessage());
    }
    storage.close();
  }

  private static int indexOf(byte[] in, byte[] what) {
    outer:
    for (int i = 0; i + what.length <= in.length; i++) {
      for (int j = 0; j < what.length; j++) {
        if (in[i + j] != what[j]) {
          continue outer;
        }
      }
      return i;
    }
    throw new AssertionError("not found");
  }
}
