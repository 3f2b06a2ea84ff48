package io.holdfast.ops.cli;

import io.holdfast.client.HoldfastClient;
import io.holdfast.client.KeyValue;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "kv", mixinStandardHelpOptions = true, description = "The fenced key-value store.",
    subcommands = {KvCommand.Get.class, KvCommand.Put.class, KvCommand.Ls.class},
    footer = {"", "Examples:", "  holdfast kv get fleet/aim_lock_config.conf",
        "  holdfast kv put fleet/aim_lock_config.conf --file ./new.conf --fence-lock fleet/aim_lock_config --fence-token 812"})
public final class KvCommand {

  static Map<String, Object> json(KeyValue kv, boolean withValue) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("key", kv.key());
    if (withValue) {
      m.put("value", kv.valueAsString());
    }
    m.put("size", kv.value().length);
    m.put("revision", kv.revision());
    m.put("create_revision", kv.createRevision());
    m.put("fence_lock", kv.fenceLock());
    m.put("fence_token", kv.fenceToken());
    m.put("written_at", Rendering.time(kv.writtenAt()));
    return m;
  }

  @Command(name = "get", mixinStandardHelpOptions = true, description = "Prints a key's value (exit 3 if absent).",
      footer = {"", "Example:", "  holdfast kv get fleet/aim_lock_config.conf -o json"})
  static final class Get implements Callable<Integer> {
    @Mixin
    ClusterOptions cluster;

    @Parameters(paramLabel = "KEY")
    String key;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
      try (HoldfastClient client = cluster.client("holdfast-cli")) {
        Optional<KeyValue> kv = client.kv().get(key);
        PrintWriter out = spec.commandLine().getOut();
        if (kv.isEmpty()) {
          spec.commandLine().getErr().println("holdfast kv get: key '" + key + "' not found");
          spec.commandLine().getErr().flush();
          return ExitCodes.NOT_FOUND;
        }
        if (cluster.json()) {
          Output.json(out, json(kv.get(), true));
        } else {
          out.print(kv.get().valueAsString());
          out.flush();
        }
        return ExitCodes.OK;
      }
    }
  }

  @Command(name = "put", mixinStandardHelpOptions = true,
      description = "Writes a key, from --value or --file; --fence-lock/--fence-token make it a fenced write, "
          + "refused (exit 3) once the lock has moved on; --expected-revision makes it compare-and-set.",
      footer = {"", "Example:", "  holdfast kv put fleet/aim_lock_config.conf --value 'threads=8' --fence-lock fleet/aim_lock_config "
          + "--fence-token \"$HOLDFAST_FENCING_TOKEN\""})
  static final class Put implements Callable<Integer> {
    @Mixin
    ClusterOptions cluster;

    @Parameters(paramLabel = "KEY")
    String key;

    @Option(names = "--value", description = "the value (text)")
    String value;

    @Option(names = "--file", description = "read the value from this file")
    Path file;

    @Option(names = "--fence-lock", description = "the lock this write is made under")
    String fenceLock = "";

    @Option(names = "--fence-token", description = "that lock's token, as granted")
    long fenceToken;

    @Option(names = "--expected-revision", description = "write only if the key is at this revision (0: absent)")
    Long expectedRevision;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
      if ((value == null) == (file == null)) {
        throw new IllegalArgumentException("give exactly one of --value and --file");
      }
      if (expectedRevision != null && expectedRevision < 0) {
        // -1 is the client's "any revision": a computed -1 would turn compare-and-set into an overwrite.
        throw new IllegalArgumentException("--expected-revision must be a revision, or 0 for an absent key; got "
            + expectedRevision);
      }
      byte[] bytes = value != null ? value.getBytes(StandardCharsets.UTF_8) : readValue(file);
      try (HoldfastClient client = cluster.client("holdfast-cli")) {
        long revision;
        try {
          revision = client.kv().putAsync(key, bytes, expectedRevision == null ? -1 : expectedRevision, fenceLock,
              fenceToken).join();
        } catch (java.util.concurrent.CompletionException e) {
          throw (Exception) e.getCause();
        }
        PrintWriter out = spec.commandLine().getOut();
        if (cluster.json()) {
          Output.json(out, Map.of("key", key, "revision", revision));
        } else {
          out.println("wrote '" + key + "' at revision " + revision);
          out.flush();
        }
        return ExitCodes.OK;
      }
    }
  }

  /**
   * The largest value any cluster takes: the ceiling of the server's max-value-bytes (its own
   * setting may be lower, and the server then says so).
   */
  static final long MAX_VALUE_BYTES = 16L << 20;

  /**
   * The file's bytes, refused above {@link #MAX_VALUE_BYTES} before they are read: a multi-GB file
   * (or /dev/zero, whose size says 0) would otherwise end in an OutOfMemoryError and a stack trace.
   */
  static byte[] readValue(Path file) {
    try {
      if (Files.isRegularFile(file) && Files.size(file) > MAX_VALUE_BYTES) {
        throw tooLarge(file, Files.size(file) + " bytes");
      }
      try (java.io.InputStream in = Files.newInputStream(file)) {
        byte[] bytes = in.readNBytes((int) MAX_VALUE_BYTES + 1);
        if (bytes.length > MAX_VALUE_BYTES) {
          throw tooLarge(file, "more than " + MAX_VALUE_BYTES + " bytes");
        }
        return bytes;
      }
    } catch (java.io.IOException e) {
      throw new IllegalArgumentException("--file: cannot read " + file + ": " + IoErrors.reason(e), e);
    }
  }

  private static IllegalArgumentException tooLarge(Path file, String size) {
    return new IllegalArgumentException("--file: " + file + " holds " + size + "; a value may be at most "
        + MAX_VALUE_BYTES + " bytes (16 MiB, the largest max-value-bytes a cluster can have)");
  }

  @Command(name = "ls", mixinStandardHelpOptions = true, description = "Lists keys under a prefix.",
      footer = {"", "Example:", "  holdfast kv ls fleet/"})
  static final class Ls implements Callable<Integer> {
    @Mixin
    ClusterOptions cluster;

    @Parameters(arity = "0..1", paramLabel = "PREFIX")
    String prefix = "";

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
      try (HoldfastClient client = cluster.client("holdfast-cli")) {
        List<KeyValue> kvs = client.kv().list(prefix);
        PrintWriter out = spec.commandLine().getOut();
        if (cluster.json()) {
          Output.json(out, kvs.stream().map(kv -> json(kv, false)).toList());
        } else {
          Output.table(out, List.of("KEY", "SIZE", "REVISION", "FENCE LOCK", "TOKEN", "WRITTEN"), kvs.stream()
              .map(kv -> List.of(kv.key(), Integer.toString(kv.value().length), Long.toString(kv.revision()),
                  kv.fenceLock(), kv.fenceToken() == 0 ? "-" : Long.toString(kv.fenceToken()),
                  Rendering.since(kv.writtenAt()) + " ago"))
              .toList());
        }
        return ExitCodes.OK;
      }
    }
  }
}
