package io.holdfast.chaos;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * A wall-clock offset for one JVM through libfaketime (LD_PRELOAD). Only the wall clock is faked:
 * a JDK 17 JVM hangs when monotonic time is faked, and Ratis' timeouts run on monotonic time
 * anyway, so {@code FAKETIME_DONT_FAKE_MONOTONIC=1} always goes with it.
 *
 * <p>{@code FAKETIME_FORCE_MONOTONIC_FIX=0} too: with libfaketime 0.9.10's default, every timed
 * wait of a JVM under any offset (Object.wait, LockSupport.parkNanos) returns at once, so the
 * skewed node busy-spins in every timer and idle loop and starves the machine; a "clock skew"
 * fault then tests a CPU-starved node instead. The smoke check times a wait to catch that.
 */
public final class FakeTime {
  private final Path library;

  private FakeTime(Path library) {
    this.library = library;
  }

  /**
   * libfaketime, if it is installed and a JVM starts under it (a smoke check); otherwise why not.
   * {@code -Dchaos.faketime.lib=<path>} names the library directly.
   */
  public static Optional<FakeTime> find(StringBuilder whyNot) {
    Optional<Path> lib = locate();
    if (lib.isEmpty()) {
      whyNot.append("libfaketime not found (apt-get install libfaketime)");
      return Optional.empty();
    }
    FakeTime ft = new FakeTime(lib.get());
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Commands.Result smoke = Commands.run(null, ft.environment(-60_000),
        List.of("timeout", "30", java, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp",
            System.getProperty("java.class.path"), TimedWaitProbe.class.getName()));
    if (!smoke.ok()) {
      whyNot.append("a JVM under libfaketime did not start or its timed waits do not wait: ")
          .append(smoke.output().trim());
      return Optional.empty();
    }
    return Optional.of(ft);
  }

  private static Optional<Path> locate() {
    String named = System.getProperty("chaos.faketime.lib", "").trim();
    if (!named.isEmpty()) {
      return Optional.of(Path.of(named)).filter(Files::isReadable);
    }
    // Debian's package knows where it put it; otherwise look in the usual library dirs.
    Commands.Result dpkg = Commands.run("dpkg", "-L", "libfaketime");
    if (dpkg.ok()) {
      Optional<Path> listed = dpkg.output().lines().filter(l -> l.endsWith("/libfaketime.so.1")).map(Path::of)
          .filter(Files::isReadable).findFirst();
      if (listed.isPresent()) {
        return listed;
      }
    }
    for (String dir : List.of("/usr/lib", "/usr/local/lib", "/usr/lib64")) {
      if (!Files.isDirectory(Path.of(dir))) {
        continue;
      }
      try (Stream<Path> files = Files.find(Path.of(dir), 3,
          (p, a) -> p.getFileName().toString().equals("libfaketime.so.1"))) {
        Optional<Path> found = files.findFirst();
        if (found.isPresent()) {
          return found;
        }
      } catch (IOException ignored) {
        // try the next dir
      }
    }
    return Optional.empty();
  }

  /** The environment that runs a process {@code offsetMs} (whole seconds) ahead of or behind the host. */
  public Map<String, String> environment(long offsetMs) {
    Map<String, String> env = new LinkedHashMap<>();
    env.put("LD_PRELOAD", library.toString());
    env.put("FAKETIME", offset(offsetMs));
    env.put("FAKETIME_DONT_FAKE_MONOTONIC", "1");
    env.put("FAKETIME_FORCE_MONOTONIC_FIX", "0");
    return env;
  }

  /** libfaketime's relative format: {@code +120s}, {@code -45s}. */
  static String offset(long offsetMs) {
    long s = offsetMs / 1000;
    return (s >= 0 ? "+" : "-") + Math.abs(s) + "s";
  }

  public Path library() {
    return library;
  }
}
