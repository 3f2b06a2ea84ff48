package io.holdfast.client;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Properties;

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
 * <p>A file-backed guard writes the new high-water mark to disk (atomically, synced) before
 * {@link #admit} returns true, so a restart cannot make it accept an older token. Thread-safe.
 */
public final class FencingGuard {
  private final Path file;
  private final Map<String, Long> newest = new HashMap<>();

  private FencingGuard(Path file) {
    this.file = file;
  }

  /** A guard that forgets on restart. */
  public static FencingGuard inMemory() {
    return new FencingGuard(null);
  }

  /** A guard that keeps its high-water marks in {@code file} (created if missing). */
  public static FencingGuard fileBacked(Path file) {
    FencingGuard g = new FencingGuard(file);
    if (Files.exists(file)) {
      Properties p = new Properties();
      try (InputStream in = Files.newInputStream(file)) {
        p.load(in);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read fencing state " + file, e);
      }
      for (String name : p.stringPropertyNames()) {
        try {
          g.newest.put(name, Long.parseLong(p.getProperty(name).trim()));
        } catch (NumberFormatException e) {
          throw new IllegalStateException("fencing state " + file + " is corrupt at '" + name + "'", e);
        }
      }
    }
    return g;
  }

  /**
   * True if {@code token} is at least the newest token admitted for {@code lockName}, which it
   * then becomes; false (and nothing recorded) for an older token.
   */
  public synchronized boolean admit(String lockName, long token) {
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

  /** The newest token admitted for {@code lockName}, if any. */
  public synchronized OptionalLong newest(String lockName) {
    Long t = newest.get(lockName);
    return t == null ? OptionalLong.empty() : OptionalLong.of(t);
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
  }
}
