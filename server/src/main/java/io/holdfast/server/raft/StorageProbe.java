package io.holdfast.server.raft;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Checks that this node can still write where Ratis keeps its log, vote and snapshots. Ratis tells
 * the state machine when a log write fails (and the node stops then), but not when writing its term
 * and vote or a snapshot sent by the leader fails: restarted on a full disk, a follower that needed
 * a snapshot kept running, refused it again and again, and voted with errors. Writing a file the
 * size of a snapshot chunk fails as those writes do. The file is never synced and is deleted at once.
 */
public final class StorageProbe {
  /** Not a UUID, so Ratis, which takes the storage directory's subdirectories for groups, ignores it. */
  static final String FILE_NAME = "holdfast-write-probe";

  private final Path file;
  private final byte[] bytes;

  public StorageProbe(Path dir, int bytes) {
    this.file = dir.resolve(FILE_NAME);
    this.bytes = new byte[bytes];
  }

  /** A probe as large as the snapshot chunks a leader sends. */
  public static StorageProbe forRaftStorage(Path raftDir) {
    return new StorageProbe(raftDir, RaftNode.SNAPSHOT_CHUNK_BYTES);
  }

  public Path file() {
    return file;
  }

  /** Writes the probe file and deletes it; throws what the file system said if it could not. */
  public void check() throws IOException {
    IOException failed = null;
    try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.TRUNCATE_EXISTING)) {
      ByteBuffer b = ByteBuffer.wrap(bytes);
      while (b.hasRemaining()) {
        out.write(b);
      }
    } catch (IOException e) {
      failed = e;
    }
    try {
      Files.deleteIfExists(file);
    } catch (IOException e) {
      if (failed == null) {
        failed = e;
      } else {
        failed.addSuppressed(e);
      }
    }
    if (failed != null) {
      throw failed;
    }
  }
}
