package io.holdfast.server.raft;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Removes the partial copies that failed snapshot installs leave behind. A follower receives a
 * snapshot into {@code <group>/tmp/snapshot-<install id>} and Ratis renames that directory into
 * place only when the last chunk arrived; an install that failed (a full disk, a leader that
 * stalled or changed) is never cleaned up, and each new attempt has a new id. A follower that
 * fails installs again and again would fill its disk with them.
 *
 * <p>At start-up nothing is installing, so every such directory goes. While the node runs, only
 * those untouched for {@link #RUNNING_IDLE}: a live install writes a chunk at least every few
 * seconds (or the leader starts it again under a new id).
 */
public final class PartialSnapshots {
  private static final Logger LOG = LoggerFactory.getLogger(PartialSnapshots.class);

  /** How long a partial snapshot must have been left untouched before a running node removes it. */
  public static final Duration RUNNING_IDLE = Duration.ofMinutes(10);

  private static final String PREFIX = "snapshot-";

  private final Path raftDir;

  public PartialSnapshots(Path raftDir) {
    this.raftDir = raftDir;
  }

  /** What a sweep removed. */
  public record Removed(int directories, long bytes) {}

  /**
   * Removes every partial snapshot whose newest file is older than {@code now - idleFor}
   * ({@link Duration#ZERO}: all of them). A directory that vanishes meanwhile is skipped.
   */
  public Removed sweep(Instant now, Duration idleFor) throws IOException {
    int dirs = 0;
    long bytes = 0;
    for (Path partial : partials()) {
      try {
        Usage u = usage(partial);
        if (!idleFor.isZero() && u.newest().isAfter(now.minus(idleFor))) {
          continue;
        }
        deleteTree(partial);
        dirs++;
        bytes += u.bytes();
        LOG.info("Removed {} ({} bytes), left by a snapshot install that did not finish", partial, u.bytes());
      } catch (NoSuchFileException gone) {
        // Removed or renamed into place by Ratis meanwhile.
      }
    }
    return new Removed(dirs, bytes);
  }

  /** {@code <raftDir>/<group>/tmp/snapshot-*} directories; a tmp that is not a directory has none. */
  List<Path> partials() throws IOException {
    List<Path> out = new ArrayList<>();
    if (!Files.isDirectory(raftDir)) {
      return out;
    }
    try (DirectoryStream<Path> groups = Files.newDirectoryStream(raftDir, Files::isDirectory)) {
      for (Path group : groups) {
        Path tmp = group.resolve("tmp");
        if (!Files.isDirectory(tmp)) {
          continue;
        }
        try (DirectoryStream<Path> in = Files.newDirectoryStream(tmp,
            p -> p.getFileName().toString().startsWith(PREFIX) && Files.isDirectory(p))) {
          in.forEach(out::add);
        } catch (NoSuchFileException gone) {
          // the group was removed meanwhile
        }
      }
    }
    return out;
  }

  private record Usage(Instant newest, long bytes) {}

  private static Usage usage(Path dir) throws IOException {
    AtomicLong newest = new AtomicLong(Files.getLastModifiedTime(dir).toMillis());
    AtomicLong bytes = new AtomicLong();
    try (Stream<Path> files = Files.walk(dir)) {
      files.forEach(p -> {
        try {
          BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
          newest.accumulateAndGet(a.lastModifiedTime().toMillis(), Math::max);
          if (a.isRegularFile()) {
            bytes.addAndGet(a.size());
          }
        } catch (NoSuchFileException gone) {
          // a file removed mid-walk counts for nothing
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
    return new Usage(Instant.ofEpochMilli(newest.get()), bytes.get());
  }

  private static void deleteTree(Path dir) throws IOException {
    Files.walkFileTree(dir, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
        Files.deleteIfExists(file);
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
        if (e != null) {
          throw e;
        }
        Files.deleteIfExists(d);
        return FileVisitResult.CONTINUE;
      }
    });
  }
}
