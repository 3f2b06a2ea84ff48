package io.holdfast.server.backup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which fencing epoch a restore runs in, given the restores before it. */
class RestoreLedgerTest {
  @TempDir
  Path dir;

  static RestoreLedger.Entry restored(long epoch, String sha, String cluster) {
    return new RestoreLedger.Entry(epoch, sha, cluster, "2026-12-06T10:00:00Z", sha + ".hfb");
  }

  private static long record(RestoreLedger ledger, String sha, String cluster, OptionalLong requested)
      throws java.io.IOException {
    return ledger.chooseAndRecord(0, sha, cluster, requested, "2026-12-06T10:00:00Z", sha + ".hfb");
  }

  @Test
  void aFirstRestoreRunsOneEpochAboveItsBackup() {
    assertEquals(1, RestoreLedger.choose(0, "aa", "c1", OptionalLong.empty(), List.of()));
    assertEquals(4, RestoreLedger.choose(3, "aa", "c1", OptionalLong.empty(), List.of()));
  }

  @Test
  void aLaterRestoreRunsAboveEveryEpochUsedBeforeWhateverItsBackup() {
    var ledger = List.of(restored(1, "aa", "c1"), restored(3, "bb", "c2"));
    assertEquals(4, RestoreLedger.choose(0, "cc", "c3", OptionalLong.empty(), ledger));
    assertEquals(4, RestoreLedger.choose(1, "dd", "c1", OptionalLong.empty(), ledger), "a backup of the restored cluster");
    assertEquals(6, RestoreLedger.choose(5, "ee", "c1", OptionalLong.empty(), ledger));
  }

  @Test
  void theSameBackupAndClusterAgainIsAskedNotGuessed() {
    var ledger = List.of(restored(1, "aa", "c1"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> RestoreLedger.choose(0, "aa", "c1", OptionalLong.empty(), ledger));
    assertTrue(e.getMessage().contains("--fencing-epoch 1") && e.getMessage().contains("--fencing-epoch 2"), e.getMessage());
    assertEquals(1, RestoreLedger.choose(0, "aa", "c1", OptionalLong.of(1), ledger), "more nodes of that cluster");
    assertEquals(2, RestoreLedger.choose(0, "aa", "c1", OptionalLong.of(2), ledger), "a cluster after it");
    assertEquals(2, RestoreLedger.choose(0, "aa", "c2", OptionalLong.empty(), ledger), "another cluster id");
  }

  @Test
  void anEpochAskedForMustBeAboveTheBackupsAndEveryOtherRestoresEpoch() {
    var ledger = List.of(restored(1, "aa", "c1"), restored(2, "bb", "c1"));
    assertThrows(IllegalArgumentException.class, () -> RestoreLedger.choose(2, "cc", "c1", OptionalLong.of(2), List.of()));
    IllegalArgumentException used = assertThrows(IllegalArgumentException.class,
        () -> RestoreLedger.choose(0, "cc", "c1", OptionalLong.of(2), ledger));
    assertTrue(used.getMessage().contains("pass 3 or more"), used.getMessage());
    assertThrows(IllegalArgumentException.class, () -> RestoreLedger.choose(0, "aa", "c1", OptionalLong.of(2), ledger),
        "epoch 2 is another backup's, even for a backup restored before in epoch 1");
    assertEquals(7, RestoreLedger.choose(0, "cc", "c1", OptionalLong.of(7), ledger));
  }

  @Test
  void recordsRoundTripOnceEachAndADamagedLineIsNamed() throws Exception {
    RestoreLedger ledger = RestoreLedger.beside(dir.resolve("backup.hfb"));
    assertEquals(List.of(), ledger.read());
    assertEquals(1, record(ledger, "aa", "", OptionalLong.empty()));
    assertEquals(1, record(ledger, "aa", "", OptionalLong.of(1)), "the rest of that cluster's nodes: no second line");
    assertEquals(2, record(ledger, "bb", "c1", OptionalLong.empty()), "recorded before: the next restore is above it");
    assertEquals(List.of(restored(1, "aa", ""), restored(2, "bb", "c1")), ledger.read());

    Files.writeString(ledger.file(), "one\tline\n", java.nio.file.StandardOpenOption.APPEND);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, ledger::read);
    assertTrue(e.getMessage().contains("line 4"), e.getMessage());
    java.io.IOException unusable = assertThrows(java.io.IOException.class,
        () -> record(ledger, "cc", "c2", OptionalLong.empty()));
    assertTrue(unusable.getMessage().contains("line 4"), unusable.getMessage());
  }

  @Test
  void aLastLineWrittenByHandWithoutItsNewlineIsNotJoinedByTheNextRecord() throws Exception {
    RestoreLedger ledger = RestoreLedger.beside(dir.resolve("backup.hfb"));
    Files.writeString(ledger.file(), "3\taa\tc1\t2026-12-06T10:00:00Z\taa.hfb");
    assertEquals(4, record(ledger, "bb", "c2", OptionalLong.empty()));
    assertEquals(List.of(restored(3, "aa", "c1"), restored(4, "bb", "c2")), ledger.read());
  }

  @Test
  void aLedgerSavedWithCrlfLineEndsReadsTheSame() throws Exception {
    RestoreLedger ledger = RestoreLedger.beside(dir.resolve("backup.hfb"));
    Files.writeString(ledger.file(), "# epoch\tbackup sha256\tcluster id\trestored at\tbackup file\r\n"
        + "3\taa\tc1\t2026-12-06T10:00:00Z\taa.hfb\r\n");
    assertEquals(List.of(restored(3, "aa", "c1")), ledger.read());
    assertEquals(4, record(ledger, "bb", "c2", OptionalLong.empty()));
    assertEquals(List.of(restored(3, "aa", "c1"), restored(4, "bb", "c2")), ledger.read());
  }
}
