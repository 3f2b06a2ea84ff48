package io.holdfast.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.ServerSocket;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the CLI must settle before, or without, reaching a cluster. */
class CliWithoutClusterTest {
  // A watch retries for ever once it runs, so it must not start against a cluster it cannot reach.
  @Test
  void aWatchOfAnUnreachableClusterFailsWithinItsTimeoutNamingTheEndpoints() throws Exception {
    int closed;
    try (ServerSocket s = new ServerSocket(0)) {
      closed = s.getLocalPort();
    }
    String endpoint = "127.0.0.1:" + closed;
    for (String[] args : new String[][] {
        {"watch", "fleet/", "--endpoints", endpoint, "--timeout", "2s"},
        {"watch", "fleet/", "--endpoints", endpoint, "--timeout", "2s", "--for", "3s"}}) {
      CliRunner.Run r = assertTimeoutPreemptively(Duration.ofSeconds(30), () -> CliRunner.run(args));
      assertEquals(1, r.code(), r.toString());
      assertTrue(r.err().contains("no endpoint answered") && r.err().contains(endpoint), r.toString());
    }
  }

  @Test
  void aPutWithANegativeExpectedRevisionOrAnUnreadableFileIsAUsageError(@TempDir java.nio.file.Path dir) {
    CliRunner.Run anyRevision = CliRunner.run("kv", "put", "fleet/x", "--value", "v", "--expected-revision", "-1",
        "--endpoints", "127.0.0.1:1");
    assertEquals(2, anyRevision.code(), anyRevision.toString());
    assertTrue(anyRevision.err().contains("--expected-revision"), anyRevision.toString());

    String missing = dir.resolve("missing.conf").toString();
    CliRunner.Run noFile = CliRunner.run("kv", "put", "fleet/x", "--file", missing, "--endpoints", "127.0.0.1:1");
    assertEquals(2, noFile.code(), noFile.toString());
    assertTrue(noFile.err().contains("--file: cannot read " + missing), noFile.toString());
  }

  /**
   * A value file larger than any cluster takes is refused before it is read (a whole multi-GB file,
   * or /dev/zero, would end in an OutOfMemoryError), and a failed read says why.
   */
  @Test
  void aValueFileTooLargeForAnyClusterIsRefusedUnreadAndAFailedReadSaysWhy(@TempDir java.nio.file.Path dir)
      throws Exception {
    java.nio.file.Path big = dir.resolve("big.bin");
    try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(big.toFile(), "rw")) {
      f.setLength(32L << 20); // sparse: no disk used
    }
    CliRunner.Run tooBig = CliRunner.run("kv", "put", "fleet/x", "--file", big.toString(), "--endpoints",
        "127.0.0.1:1");
    assertEquals(2, tooBig.code(), tooBig.toString());
    assertTrue(tooBig.err().contains("holds 33554432 bytes; a value may be at most 16777216 bytes"),
        tooBig.toString());

    // A stream with no size (a device, a pipe) is read no further than the limit.
    CliRunner.Run endless = CliRunner.run("kv", "put", "fleet/x", "--file", "/dev/zero", "--endpoints", "127.0.0.1:1");
    assertEquals(2, endless.code(), endless.toString());
    assertTrue(endless.err().contains("holds more than 16777216 bytes"), endless.toString());

    CliRunner.Run directory = CliRunner.run("kv", "put", "fleet/x", "--file", dir.toString(), "--endpoints",
        "127.0.0.1:1");
    assertEquals(2, directory.code(), directory.toString());
    assertTrue(directory.err().contains("--file: cannot read " + dir + ": Is a directory"), directory.toString());

    String missing = dir.resolve("missing.conf").toString();
    CliRunner.Run noFile = CliRunner.run("kv", "put", "fleet/x", "--file", missing, "--endpoints", "127.0.0.1:1");
    assertTrue(noFile.err().contains("cannot read " + missing + ": no such file or directory"), noFile.toString());
  }

  @Test
  void aMalformedEndpointIsAUsageErrorForEveryCommand() {
    for (String[] args : new String[][] {{"status", "--endpoints", "foo"}, {"member", "list", "--endpoints", "foo"},
        {"leader", "transfer", "--endpoints", "foo"}}) {
      CliRunner.Run r = CliRunner.run(args);
      assertEquals(2, r.code(), String.join(" ", args) + ": " + r);
      assertTrue(r.err().contains("'foo' is not host:port"), r.toString());
    }
  }

  @Test
  void aFileThatIsNoBackupFailsItsChecksAndANamedMissingFileIsAUsageError(@TempDir java.nio.file.Path dir)
      throws Exception {
    java.nio.file.Path notABackup = java.nio.file.Files.writeString(dir.resolve("n1.yaml"), "node-id: n1\n");
    CliRunner.Run damaged = CliRunner.run("snapshot", "inspect", notABackup.toString());
    assertEquals(1, damaged.code(), damaged.toString());
    assertTrue(damaged.err().startsWith("holdfast snapshot inspect: ") && damaged.err().contains("not a Holdfast backup"),
        damaged.toString());
    assertEquals(1, damaged.err().split(java.util.regex.Pattern.quote(notABackup.toString()), -1).length - 1,
        "the file is named once: " + damaged);

    CliRunner.Run missing = CliRunner.run("snapshot", "inspect", dir.resolve("none.hfb").toString());
    assertEquals(2, missing.code(), missing.toString());
  }
}
