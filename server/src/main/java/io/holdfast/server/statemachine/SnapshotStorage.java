package io.holdfast.server.statemachine;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.impl.SimpleStateMachineStorage;
import org.apache.ratis.statemachine.impl.SingleFileSnapshotInfo;
import org.apache.ratis.util.MD5FileUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Ratis's snapshot directory, answering "which snapshot is the newest" from memory. Ratis asks on
 * every AppendEntries, on the leader and on each follower, and {@link SimpleStateMachineStorage}
 * lists the directory for every answer until a first snapshot exists (with the default threshold
 * of 100,000 entries, for a long time): five system calls and a directory stream per entry.
 *
 * <p>Every snapshot this node gets passes through {@link #updateLatestSnapshot}: the ones it
 * writes, the restore seed, and the ones it loads at start or after an install from the leader
 * (Ratis's {@code loadLatestSnapshot} reports what it found through it).
 */
final class SnapshotStorage extends SimpleStateMachineStorage {
  private static final Logger LOG = LoggerFactory.getLogger(SnapshotStorage.class);
  private volatile SingleFileSnapshotInfo latest;

  @Override
  public void init(RaftStorage raftStorage) throws IOException {
    super.init(raftStorage);
    repairAfterCrash(raftStorage.getStorageDir().getStateMachineDir().toPath());
    // The one directory listing: what is on disk at start (the base class would list it lazily).
    loadLatestSnapshot();
  }

  /**
   * What a crash in the middle of writing a snapshot leaves (see SnapshotWriter): a temporary file,
   * which is dropped, or a snapshot moved into place whose checksum was not saved yet, which gets
   * one. The file was forced to disk before the move, so it is whole; without a checksum Ratis
   * loads it with none, and this node would fail every start until someone deleted it.
   */
  private static void repairAfterCrash(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      return;
    }
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
      for (Path f : files) {
        String name = f.getFileName().toString();
        if (name.startsWith("snapshot.") && name.endsWith(".tmp")) {
          Files.deleteIfExists(f);
          LOG.warn("Removed {}, a snapshot whose write a crash cut short", name);
        } else if (SNAPSHOT_REGEX.matcher(name).matches() && !MD5FileUtil.getDigestFileForFile(f.toFile()).exists()) {
          MD5FileUtil.computeAndSaveMd5ForFile(f.toFile());
          LOG.warn("Snapshot {} had no checksum file (a crash came right after it was written); saved one", name);
        }
      }
    }
  }

  @Override
  public SingleFileSnapshotInfo updateLatestSnapshot(SingleFileSnapshotInfo info) {
    SingleFileSnapshotInfo newest = super.updateLatestSnapshot(info);
    latest = newest;
    return newest;
  }

  @Override
  public SingleFileSnapshotInfo getLatestSnapshot() {
    return latest;
  }
}
