package io.holdfast.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.holdfast.ops.CliRunner.Run;
import io.holdfast.proto.v1.SnapshotHeader;
import io.holdfast.server.backup.BackupFile;
import io.holdfast.server.state.StateImage;
import io.holdfast.server.state.TestLog;
import io.holdfast.server.statemachine.SnapshotCodec;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code holdfast snapshot restore} against node config files: where seeds go, and what it refuses. */
class SnapshotRestoreCliTest {
  @TempDir
  Path dir;
  Path backup;

  @BeforeEach
  void backup() throws Exception {
    backup = backupFile("b.hfb", 1);
  }

  /** A backup in epoch 0 of a state with {@code locks} locks held. */
  Path backupFile(String name, int locks) throws Exception {
    return backupFile(name, locks, "");
  }

  /** As above, taken from the cluster {@code clusterId}. */
  Path backupFile(String name, int locks, String clusterId) throws Exception {
    TestLog log = new TestLog();
    long s = log.open();
    for (int i = 0; i < locks; i++) {
      log.acquireFree(s, "fleet/config-" + i);
    }
    StateImage img = log.state().image();
    byte[] bytes = SnapshotCodec.encode(img);
    Path file = dir.resolve(name);
    new BackupFile(SnapshotHeader.newBuilder().setFormatVersion(BackupFile.FORMAT_VERSION)
        .setAppliedIndex(img.lastAppliedIndex()).setSizeBytes(bytes.length).setClusterId(clusterId)
        .setSha256(ByteString.copyFrom(BackupFile.sha256(bytes))).build(), bytes).write(file);
    return file;
  }

  long seededEpoch(String node) throws Exception {
    return SnapshotCodec.decode(Files.readAllBytes(dir.resolve("data/" + node + "/restore/seed.snapshot"))).fencingEpoch();
  }

  Path config(String node, boolean join) throws Exception {
    Path c = dir.resolve(node + ".yaml");
    Files.writeString(c, "node-id: " + node + "\n"
        + "peers:\n  " + node + ": {peer: 127.0.0.1:1" + node.substring(1) + "10, client: 127.0.0.1:1" + node.substring(1)
        + "00}\n"
        + "data-dir: " + dir.resolve("data/" + node) + "\n"
        + "raft-log-dir: " + dir.resolve("fast-disk/" + node) + "\n"
        + "client-tls: plaintext\npeer-tls: plaintext\n"
        + "join: " + join + "\n");
    return c;
  }

  @Test
  void seedsEachNodeNamedByItsConfigAndRefusesTwice() throws Exception {
    Run r = CliRunner.run("snapshot", "restore", backup.toString(), "--new-cluster", "--config",
        config("n1", false).toString(), "--config", config("n2", false).toString(), "-o", "json");
    assertEquals(0, r.code(), r.toString());
    for (String n : new String[] {"n1", "n2"}) {
      Path seed = dir.resolve("data/" + n + "/restore/seed.snapshot");
      assertEquals(1, SnapshotCodec.decode(Files.readAllBytes(seed)).fencingEpoch(), n);
    }
    Run again = CliRunner.run("snapshot", "restore", backup.toString(), "--new-cluster", "--config",
        dir.resolve("n1.yaml").toString());
    assertEquals(3, again.code(), again.toString());
    assertTrue(again.err().contains("already waits for a restore"), again.toString());
  }

  @Test
  void checksEveryTargetBeforeWritingAny() throws Exception {
    Path n2 = config("n2", false);
    Files.createDirectories(dir.resolve("fast-disk/n2/some-group"));
    Run r = CliRunner.run("snapshot", "restore", backup.toString(), "--new-cluster", "--config",
        config("n1", false).toString(), "--config", n2.toString());
    assertEquals(3, r.code(), r.toString());
    assertTrue(r.err().contains("fast-disk/n2 already holds Raft state"), r.toString());
    assertFalse(Files.exists(dir.resolve("data/n1/restore")), "n1 was not seeded either");
  }

  /** A config named twice (copied and pasted) would seed one node twice and half the cluster: refused, nothing written. */
  @Test
  void oneNodeNamedTwiceIsRefusedBeforeAnythingIsWritten() throws Exception {
    Path n1 = config("n1", false);
    Run r = CliRunner.run("snapshot", "restore", backup.toString(), "--new-cluster", "--config", n1.toString(),
        "--config", config("n2", false).toString(), "--data-dir", dir.resolve("data/n1").toString());
    assertEquals(2, r.code(), r.toString());
    assertTrue(r.err().contains("belongs to two of the nodes named"), r.toString());
    assertFalse(Files.exists(dir.resolve("data/n1/restore")));
    assertFalse(Files.exists(dir.resolve("data/n2/restore")));
    assertFalse(Files.exists(dir.resolve("holdfast-restores.tsv")), "no epoch recorded");
  }

  /**
   * Configs with the backup's own cluster-id would let a member of the replaced cluster that comes
   * back (unreachable, not gone) take part in the restored one: refused unless the operator says so.
   */
  @Test
  void configsWithTheBackupsOwnClusterIdNeedSayingSo() throws Exception {
    String id = "9f1c2a3b-0000-4000-8000-00000000abcd";
    Path ours = backupFile("ours.hfb", 1, id);
    Path n1 = dir.resolve("n1-same-id.yaml");
    Files.writeString(n1, Files.readString(config("n1", false)) + "cluster-id: " + id + "\n");
    Run refused = CliRunner.run("snapshot", "restore", ours.toString(), "--new-cluster", "--config", n1.toString());
    assertEquals(3, refused.code(), refused.toString());
    assertTrue(refused.err().contains("cluster-id " + id + ", the cluster this backup was taken from"), refused.toString());
    assertFalse(Files.exists(dir.resolve("data/n1/restore")));

    Run said = CliRunner.run("snapshot", "restore", ours.toString(), "--new-cluster", "--reuse-cluster-id", "--config",
        n1.toString());
    assertEquals(0, said.code(), said.toString());
    assertEquals(1, seededEpoch("n1"));
  }

  /**
   * Run with sudo, the restore writes as root; the node renames its seed as the service user, the
   * data dir's owner. The seed and its directory are given to that owner.
   */
  @Test
  void theSeedBelongsToTheDataDirsOwner() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue("root".equals(System.getProperty("user.name")),
        "only root can give files away");
    Path data = dir.resolve("data/n1");
    Files.createDirectories(data);
    java.nio.file.attribute.UserPrincipal nobody = data.getFileSystem().getUserPrincipalLookupService()
        .lookupPrincipalByName("nobody");
    Files.setOwner(data, nobody);
    Run r = CliRunner.run("snapshot", "restore", backup.toString(), "--new-cluster", "--config",
        config("n1", false).toString());
    assertEquals(0, r.code(), r.toString());
    assertEquals(nobody, Files.getOwner(data.resolve("restore")));
    assertEquals(nobody, Files.getOwner(data.resolve("restore/seed.snapshot")));
  }

  /**
   * An epoch that cannot be recorded would be chosen again by the next restore of this backup, and
   * two clusters would grant the same tokens: refused unless the operator names it.
   */
  @Test
  void anEpochTheLedgerCannotRecordMustBeNamed() throws Exception {
    // The ledger cannot be created, as on a read-only mount: a link into a directory that does not
    // exist (chmod would not stop the root these tests may run as).
    Files.createSymbolicLink(dir.resolve("holdfast-restores.tsv"), dir.resolve("gone/holdfast-restores.tsv"));
    Run refused = CliRunner.run("snapshot", "restore", backup.toString(), "--new-cluster", "--config",
        config("n1", false).toString());
    assertEquals(3, refused.code(), refused.toString());
    assertTrue(refused.err().contains("cannot record the new fencing epoch in the restore ledger"), refused.toString());
    assertTrue(refused.err().contains("no such file or directory"), "says why: " + refused);
    assertTrue(refused.err().contains("pass --fencing-epoch (1 by what the ledger says)"), refused.toString());
    assertFalse(Files.exists(dir.resolve("data/n1/restore")), "nothing seeded");

    Run named = CliRunner.run("snapshot", "restore", backup.toString(), "--new-cluster", "--config",
        dir.resolve("n1.yaml").toString(), "--fencing-epoch", "1");
    assertEquals(0, named.code(), named.toString());
    assertTrue(named.err().contains("could not record fencing epoch 1"), named.toString());
    assertEquals(1, seededEpoch("n1"));
  }

  /** The CLI in a JVM of its own, with {@code env} added to this one's environment. */
  CliRunner.Run spawn(java.util.Map<String, String> env, String... args) throws Exception {
    java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx128m", "-XX:TieredStopAtLevel=1",
        "-cp", System.getProperty("java.class.path"), HoldfastCli.class.getName()));
    cmd.addAll(java.util.List.of(args));
    Path out = dir.resolve("spawned-" + System.nanoTime() + ".out");
    Path err = dir.resolve("spawned-" + System.nanoTime() + ".err");
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile());
    pb.environment().putAll(env);
    Process p = pb.start();
    if (!p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("the CLI did not finish: " + Files.readString(err));
    }
    return new CliRunner.Run(p.exitValue(), Files.readString(out), Files.readString(err));
  }

  /**
   * The node's config is what counts, not the operator's shell: a stray HOLDFAST_DATA_DIR there
   * would seed a directory the node never reads, and it would start as a new, empty cluster.
   */
  @Test
  void theConfigsAreReadWithoutThisShellsVariablesUnlessAsked() throws Exception {
    Path stray = dir.resolve("stray");
    Run r = spawn(java.util.Map.of("HOLDFAST_DATA_DIR", stray.toString()), "snapshot", "restore", backup.toString(),
        "--new-cluster", "--config", config("n1", false).toString());
    assertEquals(0, r.code(), r.toString());
    assertTrue(Files.exists(dir.resolve("data/n1/restore/seed.snapshot")), "seeded where the config says");
    assertFalse(Files.exists(stray.resolve("restore")), r.toString());
    assertTrue(r.err().contains("note: ignoring HOLDFAST_DATA_DIR from this shell"), r.toString());

    Run asked = spawn(java.util.Map.of("HOLDFAST_DATA_DIR", stray.toString()), "snapshot", "restore",
        backup.toString(), "--new-cluster", "--use-env", "--fencing-epoch", "1", "--config",
        config("n2", false).toString());
    assertEquals(0, asked.code(), asked.toString());
    assertTrue(Files.exists(stray.resolve("restore/seed.snapshot")), asked.toString());
    assertFalse(Files.exists(dir.resolve("data/n2/restore")));
  }

  static final String BACKED_UP_ID = "9f1c2a3b-0000-4000-8000-00000000abcd";
  static final String NEW_ID = "3b7e9d10-0000-4000-8000-0000000000e1";

  /**
   * A data dir does not say which cluster its node joins: the operator says it, and it is checked
   * against the backup's as a config's is. Without that, a restore by --data-dir onto hosts whose
   * configs still have the old cluster's id went ahead without a word.
   */
  @Test
  void aDataDirNeedsItsClusterIdSaidAndCheckedLikeAConfigs() throws Exception {
    Path ours = backupFile("ours.hfb", 1, BACKED_UP_ID);
    Path data = dir.resolve("data/d1");
    Run unsaid = CliRunner.run("snapshot", "restore", ours.toString(), "--new-cluster", "--data-dir", data.toString());
    assertEquals(2, unsaid.code(), unsaid.toString());
    assertTrue(unsaid.err().contains("with --data-dir, pass --cluster-id UUID"), unsaid.toString());

    Run old = CliRunner.run("snapshot", "restore", ours.toString(), "--new-cluster", "--data-dir", data.toString(),
        "--cluster-id", BACKED_UP_ID.toUpperCase());
    assertEquals(3, old.code(), old.toString());
    assertTrue(old.err().contains("cluster-id " + BACKED_UP_ID + ", the cluster this backup was taken from"),
        old.toString());

    Run bad = CliRunner.run("snapshot", "restore", ours.toString(), "--new-cluster", "--data-dir", data.toString(),
        "--cluster-id", "n1");
    assertEquals(2, bad.code(), bad.toString());
    assertTrue(bad.err().contains("'n1' is not a UUID"), bad.toString());

    // --cluster-id beside --config files must be theirs: one restore seeds one cluster.
    Run other = CliRunner.run("snapshot", "restore", ours.toString(), "--new-cluster", "--cluster-id", NEW_ID,
        "--config", config("n1", false).toString(), "--data-dir", data.toString());
    assertEquals(2, other.code(), other.toString());
    assertTrue(other.err().contains("differs from " + NEW_ID + " (--cluster-id)"), other.toString());
    assertFalse(Files.exists(data.resolve("restore")));
    assertFalse(Files.exists(dir.resolve("data/n1/restore")));
    assertFalse(Files.exists(dir.resolve("holdfast-restores.tsv")), "no epoch recorded");

    Run said = CliRunner.run("snapshot", "restore", ours.toString(), "--new-cluster", "--data-dir", data.toString(),
        "--cluster-id", NEW_ID);
    assertEquals(0, said.code(), said.toString());
    assertTrue(Files.exists(data.resolve("restore/seed.snapshot")));
    assertTrue(Files.readString(dir.resolve("holdfast-restores.tsv")).contains("\t" + NEW_ID + "\t"),
        "the ledger records the cluster it was restored into");

    Run reused = CliRunner.run("snapshot", "restore", ours.toString(), "--new-cluster", "--data-dir",
        dir.resolve("data/d2").toString(), "--reuse-cluster-id", "--fencing-epoch", "5");
    assertEquals(0, reused.code(), reused.toString());
  }

  /** A node whose raft-log-dir is not DIR/raft is checked where its Raft state really is. */
  @Test
  void aDataDirsRaftLogDirElsewhereIsCheckedToo() throws Exception {
    Path data = dir.resolve("data/d1");
    Path raft = dir.resolve("fast-disk/d1");
    Files.createDirectories(raft.resolve("some-group"));
    Run r = CliRunner.run("snapshot", "restore", backup.toString(), "--new-cluster", "--cluster-id", NEW_ID,
        "--data-dir", data.toString(), "--raft-log-dir", raft.toString());
    assertEquals(3, r.code(), r.toString());
    assertTrue(r.err().contains("fast-disk/d1 already holds Raft state"), r.toString());
    assertFalse(Files.exists(data.resolve("restore")));

    Run unpaired = CliRunner.run("snapshot", "restore", backup.toString(), "--new-cluster", "--cluster-id", NEW_ID,
        "--data-dir", data.toString(), "--data-dir", dir.resolve("data/d2").toString(), "--raft-log-dir",
        raft.toString());
    assertEquals(2, unpaired.code(), unpaired.toString());
    assertTrue(unpaired.err().contains("one per --data-dir"), unpaired.toString());
  }

  @Test
  void refusesJoiningNodesMissingFilesAndAMissingNewClusterFlag() throws Exception {
    Run join = CliRunner.run("snapshot", "restore", backup.toString(), "--new-cluster", "--config",
        config("n1", true).toString());
    assertEquals(2, join.code(), join.toString());
    assertTrue(join.err().contains("join is true"), join.toString());

    Run missing = CliRunner.run("snapshot", "restore", dir.resolve("nope.hfb").toString(), "--new-cluster",
        "--data-dir", dir.resolve("x").toString(), "--cluster-id", NEW_ID);
    assertEquals(2, missing.code(), missing.toString());
    assertTrue(missing.err().contains("does not exist"), missing.toString());

    Run noTargets = CliRunner.run("snapshot", "restore", backup.toString(), "--new-cluster");
    assertEquals(2, noTargets.code(), noTargets.toString());

    Run inspect = CliRunner.run("snapshot", "inspect", backup.toString());
    assertEquals(0, inspect.code(), inspect.toString());
    assertTrue(inspect.out().contains("locks: 1"), inspect.out());
  }

  @Test
  void aSecondRestoreFromAnotherBackupOfTheSameEpochRunsInAnEpochOfItsOwn() throws Exception {
    // The first restored cluster was lost before its first backup: the operator goes back to an
    // older backup of the original cluster. Sharing epoch 1 would repeat the first one's tokens.
    Path older = backupFile("older.hfb", 2);
    Run first = CliRunner.run("snapshot", "restore", backup.toString(), "--new-cluster", "--config",
        config("n1", false).toString());
    assertEquals(0, first.code(), first.toString());
    Run second = CliRunner.run("snapshot", "restore", older.toString(), "--new-cluster", "--config",
        config("n2", false).toString(), "-o", "json");
    assertEquals(0, second.code(), second.toString());
    assertEquals(1, seededEpoch("n1"));
    assertEquals(2, seededEpoch("n2"), "above the epoch the first restore used");
    assertTrue(second.out().contains("\"new_fencing_epoch\" : 2"), second.out());
    assertEquals(3, Files.readAllLines(dir.resolve("holdfast-restores.tsv")).size(), "a header and two restores");
  }

  @Test
  void theSameBackupRestoredAgainIntoTheSameClusterMustNameItsEpoch() throws Exception {
    Run first = CliRunner.run("snapshot", "restore", backup.toString(), "--new-cluster", "--config",
        config("n1", false).toString());
    assertEquals(0, first.code(), first.toString());

    // Either the rest of that cluster, seeded host by host, or a new one after it was lost: asked, not guessed.
    Run unsure = CliRunner.run("snapshot", "restore", backup.toString(), "--new-cluster", "--config",
        config("n2", false).toString());
    assertEquals(2, unsure.code(), unsure.toString());
    assertTrue(unsure.err().contains("--fencing-epoch 1") && unsure.err().contains("--fencing-epoch 2"), unsure.toString());
    assertFalse(Files.exists(dir.resolve("data/n2/restore")), "nothing seeded");

    Run rest = CliRunner.run("snapshot", "restore", backup.toString(), "--new-cluster", "--config",
        dir.resolve("n2.yaml").toString(), "--fencing-epoch", "1");
    assertEquals(0, rest.code(), rest.toString());
    assertEquals(1, seededEpoch("n2"));

    Run below = CliRunner.run("snapshot", "restore", backup.toString(), "--new-cluster", "--config",
        config("n3", false).toString(), "--fencing-epoch", "0");
    assertEquals(2, below.code(), below.toString());
    assertTrue(below.err().contains("not above the backup's epoch 0"), below.toString());
    Run another = CliRunner.run("snapshot", "restore", backupFile("other.hfb", 3).toString(), "--new-cluster",
        "--config", dir.resolve("n3.yaml").toString(), "--fencing-epoch", "1");
    assertEquals(2, another.code(), another.toString());
    assertTrue(another.err().contains("pass 2 or more"), another.toString());

    Run next = CliRunner.run("snapshot", "restore", backup.toString(), "--new-cluster", "--config",
        dir.resolve("n3.yaml").toString(), "--fencing-epoch", "2");
    assertEquals(0, next.code(), next.toString());
    assertEquals(2, seededEpoch("n3"));

    // A damaged ledger stops a restore that would choose by it, and not one that names its epoch.
    Files.writeString(dir.resolve("holdfast-restores.tsv"), "not a record\n", java.nio.file.StandardOpenOption.APPEND);
    Run damaged = CliRunner.run("snapshot", "restore", backup.toString(), "--new-cluster", "--config",
        config("n4", false).toString());
    assertEquals(3, damaged.code(), damaged.toString());
    assertTrue(damaged.err().contains("cannot use the restore ledger"), damaged.toString());
    Run named = CliRunner.run("snapshot", "restore", backup.toString(), "--new-cluster", "--config",
        dir.resolve("n4.yaml").toString(), "--fencing-epoch", "3");
    assertEquals(0, named.code(), named.toString());
    assertTrue(named.err().contains("could not record fencing epoch 3"), named.toString());
    assertEquals(3, seededEpoch("n4"));
  }
}
