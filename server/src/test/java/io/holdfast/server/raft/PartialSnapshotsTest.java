package io.holdfast.server.raft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PartialSnapshotsTest {
  private static final String GROUP = "02511d47-d67c-49a3-9011-abb3109a44c1";
  private static final Instant NOW = Instant.parse("2026-12-06T12:00:00Z");

  @TempDir
  Path raftDir;

  /** A partial install as Ratis leaves it: {@code <group>/tmp/snapshot-<id>/sm/<file>}, last written at {@code at}. */
  private Path partial(String id, int bytes, Instant at) throws IOException {
    Path dir = raftDir.resolve(GROUP).resolve("tmp").resolve("snapshot-" + id);
    Path file = dir.resolve("sm").resolve("snapshot.7_1234");
    Files.createDirectories(file.getParent());
    Files.write(file, new byte[bytes]);
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path p : all.toList()) {
        Files.setLastModifiedTime(p, FileTime.from(at));
      }
    }
    return dir;
  }

  @Test
  void atStartEveryPartialSnapshotIsRemovedAndNothingElse() throws IOException {
    Path old = partial("a", 3000, NOW.minus(Duration.ofHours(2)));
    Path fresh = partial("b", 500, NOW);
    Path current = Files.createDirectories(raftDir.resolve(GROUP).resolve("current"));
    Path installed = Files.writeString(Files.createDirectories(raftDir.resolve(GROUP).resolve("sm"))
        .resolve("snapshot.7_1234"), "x");
    Path other = Files.writeString(raftDir.resolve(GROUP).resolve("tmp").resolve("other"), "y");

    PartialSnapshots.Removed r = new PartialSnapshots(raftDir).sweep(NOW, Duration.ZERO);

    assertEquals(new PartialSnapshots.Removed(2, 3500), r);
    assertFalse(Files.exists(old));
    assertFalse(Files.exists(fresh));
    assertTrue(Files.isDirectory(current), "Ratis's log is not touched");
    assertTrue(Files.exists(installed), "the installed snapshot is not touched");
    assertTrue(Files.exists(other), "only snapshot-* directories are removed");
  }

  @Test
  void aRunningNodeRemovesOnlyThoseLeftUntouchedLongEnough() throws IOException {
    Path old = partial("a", 3000, NOW.minus(PartialSnapshots.RUNNING_IDLE).minusSeconds(1));
    Path live = partial("b", 500, NOW.minus(PartialSnapshots.RUNNING_IDLE).minusSeconds(1));
    // An install in progress: its newest chunk was written a second ago, the rest long before.
    Files.setLastModifiedTime(live.resolve("sm").resolve("snapshot.7_1234"), FileTime.from(NOW.minusSeconds(1)));

    PartialSnapshots.Removed r = new PartialSnapshots(raftDir).sweep(NOW, PartialSnapshots.RUNNING_IDLE);

    assertEquals(new PartialSnapshots.Removed(1, 3000), r);
    assertFalse(Files.exists(old));
    assertTrue(Files.exists(live.resolve("sm").resolve("snapshot.7_1234")), "a live install is left alone");
  }

  @Test
  void noStorageOrATmpThatIsNotADirectoryIsNothingToRemove() throws IOException {
    assertEquals(new PartialSnapshots.Removed(0, 0),
        new PartialSnapshots(raftDir.resolve("missing")).sweep(NOW, Duration.ZERO));
    Files.createDirectories(raftDir.resolve(GROUP));
    Files.writeString(raftDir.resolve(GROUP).resolve("tmp"), "a file in its place");
    Files.writeString(raftDir.resolve("holdfast-write-probe"), "");
    assertEquals(new PartialSnapshots.Removed(0, 0), new PartialSnapshots(raftDir).sweep(NOW, Duration.ZERO));
    assertTrue(Files.isRegularFile(raftDir.resolve(GROUP).resolve("tmp")));
  }
}
