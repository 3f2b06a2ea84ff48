package io.holdfast.server.backup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.holdfast.proto.v1.SnapshotHeader;
import io.holdfast.server.state.FencingToken;
import io.holdfast.server.state.HoldfastState;
import io.holdfast.server.state.Result;
import io.holdfast.server.state.StateImage;
import io.holdfast.server.state.TestLog;
import io.holdfast.server.statemachine.SnapshotCodec;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The state-level half of a restore: the seed's epoch, and what a damaged backup file gets. */
class RestoreSeedTest {
  @TempDir
  Path dir;

  static BackupFile backupOf(StateImage img) {
    byte[] bytes = SnapshotCodec.encode(img);
    return new BackupFile(SnapshotHeader.newBuilder().setFormatVersion(BackupFile.FORMAT_VERSION)
        .setAppliedIndex(img.lastAppliedIndex()).setFencingEpoch(img.fencingEpoch()).setSizeBytes(bytes.length)
        .setSha256(ByteString.copyFrom(BackupFile.sha256(bytes))).build(), bytes);
  }

  @Test
  void aRestoredStateGrantsTokensAboveEveryTokenTheOldClusterGrantedAfterTheBackup() throws Exception {
    TestLog old = new TestLog();
    long a = old.open();
    long heldToken = old.acquireFree(a, "held");
    StateImage atBackup = old.state().image();
    long highestOld = 0;
    long lastOldSession = 0;
    for (int i = 0; i < 50; i++) {
      long t = old.acquireFree(a, "churn");
      old.release(a, "churn", t);
      highestOld = Math.max(highestOld, t);
      lastOldSession = old.open();
    }
    long oldRevision = ((Result.KvWritten) old.apply(new io.holdfast.server.state.Command.Put(old.newRequestId(), "k",
        new byte[] {1}, -1, "", 0))).revision();

    StateImage seed = RestoreSeed.seedImage(backupOf(atBackup).image());
    assertEquals(1, seed.fencingEpoch());
    assertEquals(1, seed.lastAppliedTerm(), "the new cluster's first term");
    HoldfastState restored = new HoldfastState();
    restored.restore(SnapshotCodec.decode(SnapshotCodec.encode(seed)));
    TestLog next = new TestLog(restored);
    for (int i = 0; i < 1_000; i++) {
      next.newRequestId(); // request ids the old cluster used must not be reused by this driver
    }

    assertEquals(heldToken, restored.lock("held").token(), "locks keep the token they were granted with");
    assertEquals(a, restored.lock("held").holderSessionId());
    long newSession = next.open();
    assertTrue(newSession > lastOldSession, "session ids never repeat one the old cluster gave out after the backup");
    long fresh = ((Result.Granted) next.acquire(next.newRequestId(), newSession, "churn", 0)).token();
    assertTrue(fresh > highestOld, fresh + " > " + highestOld);
    assertEquals(new FencingToken(1, atBackup.lastAppliedIndex() + 2), FencingToken.of(fresh),
        "epoch 1, and the log index continues after the backup's");
    long newRevision = ((Result.KvWritten) next.apply(new io.holdfast.server.state.Command.Put(next.newRequestId(), "k",
        new byte[] {2}, -1, "", 0))).revision();
    assertTrue(newRevision > oldRevision, "KV revisions never repeat either");
    Result stale = next.release(a, "held", heldToken + 1);
    assertInstanceOf(Result.Failure.class, stale);

    // Epoch 0 keeps the snapshot format earlier versions read; a raised epoch is format 2, which
    // they refuse instead of reading it as epoch 0.
    assertEquals(1, io.holdfast.server.statemachine.proto.Snapshot.parseFrom(SnapshotCodec.encode(atBackup))
        .getFormatVersion());
    assertEquals(2, io.holdfast.server.statemachine.proto.Snapshot.parseFrom(SnapshotCodec.encode(seed))
        .getFormatVersion());

    // A second restore, from a backup of the restored cluster, moves to epoch 2.
    assertEquals(2, RestoreSeed.seedImage(restored.image()).fencingEpoch());
  }

  @Test
  void aRestoreKeepsTheApplyRulesTheClusterHadRaisedTo() throws Exception {
    TestLog log = new TestLog();
    log.open();
    log.apply(new io.holdfast.server.state.Command.RaiseApplyRules(io.holdfast.server.state.LogEntry.NEGOTIATED_FROM + 1));
    Path file = dir.resolve("rules.hfb");
    backupOf(log.state().image()).write(file);
    StateImage seed = RestoreSeed.seedImage(BackupFile.read(file).image());
    assertEquals(io.holdfast.server.state.LogEntry.NEGOTIATED_FROM + 1, seed.clusterRules(),
        "a build that does not know them must not serve the restored cluster");
  }

  @Test
  void aDamagedBackupFileIsRefusedWithTheReason() throws Exception {
    TestLog log = new TestLog();
    log.acquireFree(log.open(), "x");
    Path file = dir.resolve("b.hfb");
    backupOf(log.state().image()).write(file);
    assertEquals(log.state().lastAppliedIndex(), BackupFile.read(file).image().lastAppliedIndex());

    byte[] bytes = Files.readAllBytes(file);
    byte[] flipped = bytes.clone();
    flipped[flipped.length - 2] ^= 1;
    Files.write(file, flipped);
    assertTrue(assertThrows(IllegalArgumentException.class, () -> BackupFile.read(file)).getMessage()
        .contains("checksum"));

    Files.write(file, java.util.Arrays.copyOf(bytes, bytes.length - 5));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> BackupFile.read(file)).getMessage()
        .contains("truncated"));

    Files.writeString(file, "node-id: n1\n");
    assertTrue(assertThrows(IllegalArgumentException.class, () -> BackupFile.read(file)).getMessage()
        .contains("not a Holdfast backup"));
  }

  @Test
  void aBackupIsReadableByItsOwnerOnlyAndAFailedWriteLeavesNothingBehind() throws Exception {
    TestLog log = new TestLog();
    log.acquireFree(log.open(), "x");
    BackupFile backup = backupOf(log.state().image());
    Path file = dir.resolve("owner-only.hfb");
    // A killed save's leftover temporary file does not stand in the way.
    Files.writeString(dir.resolve("owner-only.hfb.tmp"), "half a backup");
    backup.write(file);
    assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
        Files.getPosixFilePermissions(file)));
    assertTrue(!Files.exists(dir.resolve("owner-only.hfb.tmp")));
    assertEquals(log.state().lastAppliedIndex(), BackupFile.read(file).image().lastAppliedIndex());

    Path nowhere = dir.resolve("no-such-dir").resolve("b.hfb");
    java.io.IOException e = assertThrows(java.io.IOException.class, () -> backup.write(nowhere));
    assertTrue(e.getMessage().startsWith("cannot write the backup to " + nowhere + ": no such file or directory"),
        e.getMessage());
    // A directory where the file belongs: the move fails after the temporary file was written.
    Path taken = Files.createDirectories(dir.resolve("taken.hfb")).resolve("inside");
    Files.writeString(taken, "x");
    assertThrows(java.io.IOException.class, () -> backup.write(dir.resolve("taken.hfb")));
    assertTrue(!Files.exists(dir.resolve("taken.hfb.tmp")), "the temporary file was removed");
  }

  @Test
  void aSeedIsOnlyWrittenForAnEmptyNode() throws Exception {
    TestLog log = new TestLog();
    log.acquireFree(log.open(), "x");
    BackupFile backup = backupOf(log.state().image());
    Path raft = dir.resolve("n1/raft");
    Files.createDirectories(raft.resolve("some-group"));
    Path seed = dir.resolve("n1/restore/seed.snapshot");
    assertTrue(assertThrows(IllegalStateException.class, () -> RestoreSeed.write(backup, seed, raft)).getMessage()
        .contains("already holds Raft state"));
    assertFalse(Files.exists(seed));

    Path emptyRaft = dir.resolve("n2/raft");
    Path seed2 = dir.resolve("n2/restore/seed.snapshot");
    RestoreSeed.write(backup, seed2, emptyRaft);
    assertEquals(1, SnapshotCodec.decode(Files.readAllBytes(seed2)).fencingEpoch());
    assertThrows(IllegalStateException.class, () -> RestoreSeed.write(backup, seed2, emptyRaft));
  }
}
