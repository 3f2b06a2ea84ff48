package io.holdfast.chaos;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs a short system command (ip, nft, iptables) and captures what it printed. */
final class Commands {
  private Commands() {}

  /** Exit code and combined stdout+stderr; exit -1 when it could not run or timed out. */
  record Result(List<String> command, int exit, String output) {
    boolean ok() {
      return exit == 0;
    }

    /** Fails loudly with the command and what it said: a half-built topology must not go unnoticed. */
    Result orThrow() {
      if (!ok()) {
        throw new IllegalStateException(String.join(" ", command) + " -> exit " + exit + ": " + output.trim());
      }
      return this;
    }
  }

  static Result run(String... command) {
    return run(null, Map.of(), List.of(command));
  }

  static Result run(String stdin, Map<String, String> env, List<String> command) {
    try {
      ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
      pb.environment().putAll(env);
      Process p = pb.start();
      try (OutputStream in = p.getOutputStream()) {
        if (stdin != null) {
          in.write(stdin.getBytes(StandardCharsets.UTF_8));
        }
      }
      // Read after closing stdin; outputs here are small, so the pipe cannot fill up first.
      byte[] out = p.getInputStream().readAllBytes();
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return new Result(command, -1, "timed out");
      }
      return new Result(command, p.exitValue(), new String(out, StandardCharsets.UTF_8));
    } catch (IOException e) {
      return new Result(command, -1, e.toString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Result(command, -1, "interrupted");
    }
  }

  /** Whether {@code tool} is an executable on the PATH (or in the sbin dirs a root shell has). */
  static boolean onPath(String tool) {
    String path = System.getenv().getOrDefault("PATH", "") + ":/usr/sbin:/sbin";
    for (String dir : path.split(":")) {
      if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool))) {
        return true;
      }
    }
    return false;
  }
}
