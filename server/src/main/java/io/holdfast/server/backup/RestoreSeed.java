package io.holdfast.server.backup;

import io.holdfast.server.state.FencingToken;
import io.holdfast.server.state.StateImage;
import io.holdfast.server.statemachine.SnapshotCodec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.channels.FileChannel;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.UserPrincipal;

/**
 * Prepares a new node to start from a backup. The seed is the backup's state in the next fencing
 * epoch, so that every token the new cluster grants is above every token the old cluster ever
 * granted, even after the backup was taken (see {@link FencingToken}). The node turns the seed
 * into its first Raft snapshot when it starts with an empty Raft log
 * (HoldfastStateMachine#installRestoreSeedFrom); its log then continues at the backup's index + 1.
 */
public final class RestoreSeed {
  private RestoreSeed() {}

  /** The Raft term of a seed: the first real term (Ratis treats a voter whose last entry has term 0 as empty). */
  public static final long SEED_TERM = 1;

  /** The state a restored cluster starts from: the backup's, one epoch on, in term 1. */
  public static StateImage seedImage(StateImage backup) {
    if (backup.fencingEpoch() >= FencingToken.MAX_EPOCH) {
      throw new IllegalArgumentException("the backup is in fencing epoch " + backup.fencingEpoch()
          + ", the last one there is; it cannot be restored again");
    }
    return seedImage(backup, backup.fencingEpoch() + 1);
  }

  /**
   * The backup's state in fencing epoch {@code epoch}, in term 1. The epoch must be above the
   * backup's, and above every epoch an earlier restore used (see {@link RestoreLedger}).
   */
  public static StateImage seedImage(StateImage backup, long epoch) {
    if (epoch <= backup.fencingEpoch() || epoch > FencingToken.MAX_EPOCH) {
      throw new IllegalArgumentException("fencing epoch " + epoch + " must be above the backup's, "
          + backup.fencingEpoch() + ", and at most " + FencingToken.MAX_EPOCH);
    }
    // Term 1: the new cluster starts at term 0 and elects in term 1 or later, and Ratis refuses
    // entries below the last term it has. The log clock restarts its per-term baseline (-1) but
    // keeps its elapsed time.
    return new StateImage(backup.lastAppliedIndex(), SEED_TERM, backup.clockElapsedMs(), backup.clockLastStampMs(), -1,
        backup.clockWallMs(), backup.sessions(), backup.locks(), backup.recentOpens(), backup.adminRequests(),
        backup.audit(), backup.kv(), backup.kvRequests(), epoch, backup.lastRevision(),
        backup.clusterRules());
  }

  /**
   * Writes the seed into {@code seedFile} for a node whose Raft storage is {@code raftLogDir}.
   * Refuses a node that already has Raft state or a seed: a restore builds a new cluster.
   */
  public static StateImage write(BackupFile backup, Path seedFile, Path raftLogDir) throws IOException {
    return write(backup, seedFile, raftLogDir, backup.image().fencingEpoch() + 1);
  }

  /** As {@link #write(BackupFile, Path, Path)}, in fencing epoch {@code epoch}. */
  public static StateImage write(BackupFile backup, Path seedFile, Path raftLogDir, long epoch) throws IOException {
    if (Files.isDirectory(raftLogDir)) {
      try (var entries = Files.list(raftLogDir)) {
        if (entries.findAny().isPresent()) {
          throw new IllegalStateException(raftLogDir + " already holds Raft state: restore into the empty data "
              + "dirs of a new cluster (move the old ones away first)");
        }
      }
    }
    if (Files.exists(seedFile)) {
      throw new IllegalStateException(seedFile + " exists: this node already waits for a restore");
    }
    StateImage seed = seedImage(backup.image(), epoch);
    Path restoreDir = seedFile.getParent();
    Files.createDirectories(restoreDir);
    Path tmp = seedFile.resolveSibling(seedFile.getFileName() + ".tmp");
    Files.write(tmp, SnapshotCodec.encode(seed));
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
      ch.force(true); // a power cut before the node starts must not leave a torn seed that decodes
    }
    ownedLikeTheDataDir(restoreDir, tmp);
    Files.move(tmp, seedFile, StandardCopyOption.ATOMIC_MOVE);
    // The seed's directory entry, and the restore directory's own in the data dir: a power cut
    // before the node starts must not lose the seed (the node would start as an empty cluster).
    for (Path dir : new Path[] {restoreDir, restoreDir.toAbsolutePath().getParent()}) {
      if (dir != null) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
          ch.force(true);
        }
      }
    }
    return seed;
  }

  /**
   * The node renames its seed once installed, as the data dir's owner (the service user): a seed
   * written by root (sudo) into a directory root created would stop it at every start. So the
   * directory and the seed get the data dir's owner.
   */
  private static void ownedLikeTheDataDir(Path restoreDir, Path seed) throws IOException {
    Path dataDir = restoreDir.toAbsolutePath().getParent();
    if (dataDir == null) {
      return;
    }
    UserPrincipal owner = Files.getOwner(dataDir);
    for (Path p : new Path[] {restoreDir, seed}) {
      if (!Files.getOwner(p).equals(owner)) {
        try {
          Files.setOwner(p, owner);
        } catch (IOException e) {
          Files.deleteIfExists(seed);
          throw new IOException("cannot give " + p + " to " + owner.getName() + ", the owner of " + dataDir
              + ", as whom the node renames its seed: run the restore as " + owner.getName() + " or as root ("
              + e.getMessage() + ")", e);
        }
      }
    }
  }
}
