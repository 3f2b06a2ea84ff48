package io.holdfast.server.statemachine;

import java.io.IOException;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.impl.SimpleStateMachineStorage;
import org.apache.ratis.statemachine.impl.SingleFileSnapshotInfo;

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
  private volatile SingleFileSnapshotInfo latest;

  @Override
  public void init(RaftStorage raftStorage) throws IOException {
    super.init(raftStorage);
    // The one directory listing: what is on disk at start (the base class would list it lazily).
    loadLatestSnapshot();
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
