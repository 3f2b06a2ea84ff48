package io.holdfast.server.statemachine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.ratis.server.protocol.TermIndex;
import org.apache.ratis.server.storage.FileInfo;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.impl.SingleFileSnapshotInfo;
import org.apache.ratis.util.MD5FileUtil;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The newest snapshot comes from memory, and memory follows every way a snapshot arrives. */
class SnapshotStorageTest {
  @TempDir
  Path dir;
  RaftStorage raftStorage;

  @BeforeEach
  void setUp() throws Exception {
    raftStorage = TestRaftStorage.open(dir, RaftStorage.StartupOption.RECOVER);
  }

  @AfterEach
  void tearDown() throws Exception {
    raftStorage.close();
  }

  private static SingleFileSnapshotInfo writeSnapshotFile(SnapshotStorage storage, long term, long index)
      throws Exception {
    File f = storage.getSnapshotFile(term, index);
    Files.write(f.toPath(), new byte[] {1, 2, 3});
    return new SingleFileSnapshotInfo(new FileInfo(f.toPath(), MD5FileUtil.computeAndSaveMd5ForFile(f)),
        TermIndex.valueOf(term, index));
  }

  @Test
  void aSnapshotOnDiskAtStartIsTheLatest() throws Exception {
    SnapshotStorage first = new SnapshotStorage();
    first.init(raftStorage);
    writeSnapshotFile(first, 2, 40);
    writeSnapshotFile(first, 3, 75);

    SnapshotStorage restarted = new SnapshotStorage();
    restarted.init(raftStorage);
    assertEquals(75, restarted.getLatestSnapshot().getIndex());
    assertEquals(3, restarted.getLatestSnapshot().getTerm());
  }

  @Test
  void answersFromMemoryNotFromTheDirectory() throws Exception {
    SnapshotStorage storage = new SnapshotStorage();
    storage.init(raftStorage);
    assertNull(storage.getLatestSnapshot());

    // A file that appears behind its back (SimpleStateMachineStorage would list it) is not seen...
    writeSnapshotFile(storage, 1, 10);
    assertNull(storage.getLatestSnapshot());
    // ...until a load (start, or reinitialize after an install from the leader) reports it.
    storage.loadLatestSnapshot();
    assertEquals(10, storage.getLatestSnapshot().getIndex());

    // A snapshot this node writes is reported through updateLatestSnapshot; an older one never wins.
    storage.updateLatestSnapshot(writeSnapshotFile(storage, 1, 20));
    assertEquals(20, storage.getLatestSnapshot().getIndex());
    storage.updateLatestSnapshot(writeSnapshotFile(storage, 1, 15));
    assertEquals(20, storage.getLatestSnapshot().getIndex());
  }
}
