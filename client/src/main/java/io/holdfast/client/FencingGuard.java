package io.holdfast.client;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * The resource side of fencing: put it in front of whatever a lock protects (a config applier, a
 * storage writer) and admit a change only if its token is no older than the newest token admitted
 * for that lock. A holder whose lock has moved on carries an older token and is refused, however
 * late its messages arrive.
 *
 * <pre>{@code
 * FencingGuard guard = FencingGuard.fileBacked(Path.of("/var/lib/agent/fencing"));
 * if (guard.admit("fleet/config", update.token())) {
 *   apply(update);
 * } // else: a stale holder; drop it
 * }</pre>
 *
 * <p>A file-backed guard writes the new high-water mark to disk (atomically, synced, and the
 * rename synced too) before {@link #admit} returns true, so a restart cannot make it accept an
 * older token. Several guards, in one process or several, may share one file: each admit holds a
 * lock on the sibling file {@code <file>.lock} and first reads the marks the others wrote, so none
 * overwrites another's. Thread-safe.
 */
public final class FencingGuard {
  /** File locks belong to the process: guards of one file in this JVM take turns on a monitor first. */
  private static final Map<Path, Object> IN_PROCESS = new ConcurrentHashMap<>();
  private static final boolean WINDOWS = System.getProperty("os.name", "").startsWith("Windows");

  private final Path file;
  private final Map<String, Long> newest = new HashMap<>();

  private FencingGuard(Path file) {
    this.file = file == null ? null : file.toAbsolutePath().normalize();
  }

  /** A guard that forgets on restart. */
  public static FencingGuard inMemory() {
    return new FencingGuard(null);
  }

  /** A guard that keeps its high-water marks in {@code file} (created if missing). */
  public static FencingGuard fileBacked(Path file) {
    FencingGuard g = new FencingGuard(file);
    g.load(); // a corrupt file is reported now, not at the first admit
    return g;
  }

  /** Takes in the marks in the file, the highest of each lock: other guards of the file may have raised them. */
  private void load() {
    if (!Files.exists(file)) {
      return;
    }
    Properties p = new Properties();
    try (InputStream in = Files.newInputStream(file)) {
      p.load(in);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read fencing state " + file, e);
    }
    for (String name : p.stringPropertyNames()) {
      try {
        newest.merge(name, Long.parseLong(p.getProperty(name).trim()), Math::max);
      } catch (NumberFormatException e) {
        throw new IllegalStateException("fencing state " + file + " is corrupt at '" + name + "'", e);
      }
    }
  }

  /**
   * True if {@code token} is at least the newest token admitted for {@code lockName}, which it
   * then becomes; false (and nothing recorded) for an older token.
   *
   * @throws IllegalArgumentException if {@code token} is not positive: no grant has such a token
   */
  public synchronized boolean admit(String lockName, long token) {
    if (token <= 0) {
      // A default or unset token (0) would otherwise become a lock's first mark, and pass.
      throw new IllegalArgumentException("fencing tokens are positive; got " + token + " for '" + lockName + "'");
    }
    return file == null ? raise(lockName, token) : underFileLock(() -> {
      load();
      return raise(lockName, token);
    });
  }

  private boolean raise(String lockName, long token) {
    Long current = newest.get(lockName);
    if (current != null && token < current) {
      return false;
    }
    if (current == null || token > current) {
      newest.put(lockName, token);
      if (file != null) {
        try {
          persist();
        } catch (IOException e) {
          // Not durable, so not admitted: refusing is the safe side.
          if (current == null) {
            newest.remove(lockName);
          } else {
            newest.put(lockName, current);
          }
          throw new UncheckedIOException("cannot persist fencing state to " + file, e);
        }
      }
    }
    return true;
  }

  /** The newest token admitted for {@code lockName}, if any, by any guard of this one's file. */
  public synchronized OptionalLong newest(String lockName) {
    if (file != null) {
      underFileLock(() -> {
        load();
        return null;
      });
    }
    Long t = newest.get(lockName);
    return t == null ? OptionalLong.empty() : OptionalLong.of(t);
  }

  private <T> T underFileLock(Supplier<T> action) {
    synchronized (IN_PROCESS.computeIfAbsent(file, f -> new Object())) {
      Path lockFile = file.resolveSibling(file.getFileName() + ".lock");
      try {
        Files.createDirectories(file.getParent());
        try (FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock held = ch.lock()) {
          return action.get();
        }
      } catch (IOException e) {
        throw new UncheckedIOException("cannot lock fencing state " + lockFile, e);
      }
    }
  }

  private void persist() throws IOException {
    Properties p = new Properties();
    newest.forEach((k, v) -> p.setProperty(k, Long.toString(v)));
    Path dir = file.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    Path tmp = Files.createTempFile(dir, file.getFileName().toString(), ".tmp");
    try (OutputStream out = Files.newOutputStream(tmp)) {
      p.store(out, "holdfast fencing high-water marks: lock name = newest admitted token");
    }
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
      ch.force(true);
    }
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    // The rename is an entry in the directory: until that is synced, a crash can bring back the old file.
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    } catch (IOException e) {
      if (!WINDOWS) {
        throw e;
      } // Windows cannot open a directory to sync it; there the rename is as durable as NTFS makes it
    }
  }
}
