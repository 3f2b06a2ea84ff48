package io.holdfast.ops.cli;

import io.grpc.Status;
import io.holdfast.proto.v1.AdminServiceGrpc;
import io.holdfast.proto.v1.SaveSnapshotRequest;
import io.holdfast.proto.v1.SnapshotChunk;
import io.holdfast.proto.v1.SnapshotHeader;
import io.holdfast.server.backup.BackupFile;
import io.holdfast.server.backup.RestoreLedger;
import io.holdfast.server.backup.RestoreSeed;
import io.holdfast.server.config.ServerConfig;
import io.holdfast.server.config.ServerConfigLoader;
import io.holdfast.server.state.FencingToken;
import io.holdfast.server.state.StateImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code holdfast snapshot save|inspect|restore}: backups, and new clusters built from them. */
@Command(name = "snapshot", mixinStandardHelpOptions = true,
    description = "Back up a running cluster, and restore a backup into a new cluster.",
    subcommands = {SnapshotCommand.Save.class, SnapshotCommand.Inspect.class, SnapshotCommand.Restore.class},
    footer = {"", "Examples:", "  holdfast snapshot save /backups/holdfast-$(date +%%F).hfb",
        "  holdfast snapshot restore /backups/holdfast-2026-11-25.hfb --new-cluster \\",
        "      --config /etc/holdfast/n1.yaml --config /etc/holdfast/n2.yaml --config /etc/holdfast/n3.yaml",
        "", "See ops/runbooks/quorum-lost.md."})
public final class SnapshotCommand {

  static Map<String, Object> describe(SnapshotHeader h) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("cluster_id", h.getClusterId());
    m.put("applied_index", h.getAppliedIndex());
    m.put("fencing_epoch", h.getFencingEpoch());
    m.put("taken_at", Instant.ofEpochMilli(h.getTakenAtMs()).toString());
    m.put("taken_by", h.getTakenBy());
    m.put("size_bytes", h.getSizeBytes());
    m.put("sha256", BackupFile.hex(h.getSha256().toByteArray()));
    return m;
  }

  static void print(CommandSpec spec, boolean json, Map<String, Object> doc) {
    var out = spec.commandLine().getOut();
    if (json) {
      Output.json(out, doc);
    } else {
      doc.forEach((k, v) -> out.println(k + ": " + v));
      out.flush();
    }
  }

  @Command(name = "save", mixinStandardHelpOptions = true,
      description = {"Writes a consistent backup of the running cluster to FILE: the state as of a linearizable "
          + "point (every write acknowledged before the command started), with its index, fencing epoch and "
          + "SHA-256. The file is written atomically and checked before the command succeeds."},
      footer = {"", "Example:", "  holdfast snapshot save /backups/holdfast-$(date +%%F-%%H%%M).hfb"})
  static final class Save implements Callable<Integer> {
    @Mixin
    ClusterOptions cluster;

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE", description = "where to write the backup")
    Path file;

    @Override
    public Integer call() throws IOException {
      try (AdminChannels admin = cluster.adminChannels()) {
        String endpoint = admin.leader();
        Iterator<SnapshotChunk> chunks = AdminServiceGrpc.newBlockingStub(admin.channel(endpoint))
            .withDeadlineAfter(cluster.timeout.toMillis() + 60_000, TimeUnit.MILLISECONDS)
            .saveSnapshot(SaveSnapshotRequest.getDefaultInstance());
        if (!chunks.hasNext()) {
          throw Status.DATA_LOSS.withDescription("the server sent no backup header").asRuntimeException();
        }
        SnapshotChunk first = chunks.next();
        if (!first.hasHeader()) {
          throw Status.DATA_LOSS.withDescription("the server's backup stream does not start with a header")
              .asRuntimeException();
        }
        ByteArrayOutputStream state = new ByteArrayOutputStream((int) Math.min(Integer.MAX_VALUE - 8,
            first.getHeader().getSizeBytes()));
        chunks.forEachRemaining(c -> state.writeBytes(c.getData().toByteArray()));
        BackupFile backup;
        try {
          backup = new BackupFile(first.getHeader(), state.toByteArray());
          backup.image();
        } catch (IllegalArgumentException damaged) {
          throw failed("the backup the cluster sent fails its checks, nothing written: ", damaged);
        }
        backup.write(file);
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("file", file.toString());
        doc.putAll(describe(backup.header()));
        print(spec, cluster.json(), doc);
        return ExitCodes.OK;
      }
    }
  }

  @Command(name = "inspect", mixinStandardHelpOptions = true,
      description = "Checks a backup file (magic, checksum, decoding) and prints what it holds.",
      footer = {"", "Example:", "  holdfast snapshot inspect /backups/holdfast-2026-11-25-0300.hfb -o json"})
  static final class Inspect implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE", description = "a backup written by snapshot save")
    Path file;

    @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", description = "table (default) or json")
    Output.Format output = Output.Format.table;

    @Override
    public Integer call() throws IOException {
      BackupFile backup = read(file);
      StateImage img = backup.image();
      Map<String, Object> doc = new LinkedHashMap<>(describe(backup.header()));
      doc.put("sessions", img.sessions().size());
      doc.put("locks", img.locks().size());
      doc.put("keys", img.kv().size());
      print(spec, output == Output.Format.json, doc);
      return ExitCodes.OK;
    }
  }

  /** Exit code 3, like any other failed precondition. */
  static RuntimeException precondition(String message) {
    return Status.FAILED_PRECONDITION.withDescription(message).asRuntimeException();
  }

  /** The numeric owner of {@code p}, or null where the file system does not say (not a Unix one). */
  static Integer uidOf(Path p) {
    try {
      return (Integer) Files.getAttribute(p, "unix:uid");
    } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
      return null;
    }
  }

  static BackupFile read(Path file) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException(file + " does not exist or is not a file");
    }
    try {
      BackupFile backup = BackupFile.read(file);
      backup.image(); // decodes: a backup that does not is refused before anything is written
      return backup;
    } catch (IllegalArgumentException damaged) {
      throw failed(file + ": ", damaged);
    }
  }

  /** A backup that fails its checks is a failure (exit 1), not a usage error: nothing typed was wrong. */
  private static IllegalStateException failed(String where, IllegalArgumentException damaged) {
    return new IllegalStateException(where + damaged.getMessage(), damaged);
  }

  @Command(name = "restore", mixinStandardHelpOptions = true,
      description = {"Prepares the nodes of a NEW cluster to start from a backup: for each node (its --config, or "
          + "its --data-dir) writes a restore seed into its empty data dir. Start the nodes afterwards; each "
          + "turns the seed into its first snapshot. The restored cluster runs in the next fencing epoch, so "
          + "every token it grants is higher than any token the old cluster granted, before or after the "
          + "backup. Restore a backup once, into one cluster; never restart the old cluster's nodes with the "
          + "new cluster's members."},
      footer = {"", "Example:", "  holdfast snapshot restore backup.hfb --new-cluster --config n1.yaml --config n2.yaml "
          + "--config n3.yaml"})
  static final class Restore implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE", description = "a backup written by snapshot save")
    Path file;

    @Option(names = "--new-cluster", required = true,
        description = "required: says that the target nodes are a new cluster with empty data dirs")
    boolean newCluster;

    @Option(names = "--config", paramLabel = "FILE", description = "a new node's config file (repeat per node)")
    List<Path> configs = new ArrayList<>();

    @Option(names = "--data-dir", paramLabel = "DIR",
        description = "a new node's data dir (repeat per node); needs --cluster-id or --reuse-cluster-id")
    List<Path> dataDirs = new ArrayList<>();

    @Option(names = "--raft-log-dir", paramLabel = "DIR",
        description = "with --data-dir: that node's raft-log-dir, checked to be empty, when it is not DIR/raft "
            + "(one per --data-dir, in the same order)")
    List<Path> raftLogDirs = new ArrayList<>();

    @Option(names = "--cluster-id", paramLabel = "UUID",
        description = {"the new cluster's cluster-id, as in its nodes' configs: required with --data-dir (a data "
            + "dir does not say it), and checked against the backup's and the --config files'"})
    String newClusterId;

    @Option(names = "--fencing-epoch", paramLabel = "N",
        description = {"the new cluster's fencing epoch (default: above the backup's and above every epoch in the "
            + "restore ledger beside the backup, " + RestoreLedger.FILE_NAME + "); give every node of one cluster "
            + "the same. Required when the ledger cannot be written"})
    Long fencingEpoch;

    @Option(names = "--reuse-cluster-id",
        description = {"seed configs whose cluster-id is the backup's own: only once every member of the old "
            + "cluster is stopped and its data dir moved aside (one that comes back would be a member)"})
    boolean reuseClusterId;

    @Option(names = "--use-env",
        description = {"apply HOLDFAST_<KEY> variables from this shell to the --config files, as a node applies "
            + "its own (for nodes that take settings from /etc/default/holdfast: set -a; . /etc/default/holdfast). "
            + "Without it they are ignored"})
    boolean useEnv;

    @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", description = "table (default) or json")
    Output.Format output = Output.Format.table;

    /**
     * The environment the configs are read with. Not this shell's by default: a stray
     * HOLDFAST_DATA_DIR there would seed a directory the node never reads (or the node's own
     * variables, from its unit, would be missing here), and nothing would say so until it started
     * as a new, empty cluster.
     */
    private Map<String, String> configEnvironment() {
      if (useEnv) {
        return System.getenv();
      }
      // Only those a node would apply (as ServerConfigLoader reads them): HOLDFAST_ENDPOINTS is the CLI's.
      List<String> ignored = System.getenv().keySet().stream().filter(k -> k.startsWith("HOLDFAST_")
          && ServerConfigLoader.keys().contains(
              k.substring("HOLDFAST_".length()).toLowerCase(java.util.Locale.ROOT).replace('_', '-')))
          .sorted().toList();
      if (!configs.isEmpty() && !ignored.isEmpty()) {
        spec.commandLine().getErr().println("note: ignoring " + String.join(", ", ignored) + " from this shell: "
            + "the --config files are read as written (--use-env applies them)");
        spec.commandLine().getErr().flush();
      }
      return Map.of();
    }

    @Override
    public Integer call() throws IOException {
      if (configs.isEmpty() && dataDirs.isEmpty()) {
        throw new IllegalArgumentException("name the new cluster's nodes with --config FILE or --data-dir DIR");
      }
      if (!raftLogDirs.isEmpty() && raftLogDirs.size() != dataDirs.size()) {
        throw new IllegalArgumentException("--raft-log-dir: give one per --data-dir, in the same order ("
            + dataDirs.size() + " --data-dir, " + raftLogDirs.size() + " --raft-log-dir)");
      }
      if (newClusterId != null) {
        try {
          newClusterId = java.util.UUID.fromString(newClusterId).toString();
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException("--cluster-id: '" + newClusterId + "' is not a UUID");
        }
      }
      if (!dataDirs.isEmpty() && configs.isEmpty() && newClusterId == null && !reuseClusterId) {
        // A data dir does not say which cluster its node will join (a --config beside it does): without
        // this the check against the backup's own cluster-id below would be skipped without a word.
        throw new IllegalArgumentException("with --data-dir, pass --cluster-id UUID, the cluster-id in the new "
            + "nodes' configs (checked to differ from the backup's), or --reuse-cluster-id if they keep the "
            + "backup's own");
      }
      BackupFile backup = read(file);
      backup.image();
      // Targets first, all checked before any is written: a half-seeded cluster helps nobody.
      List<Path[]> targets = new ArrayList<>();
      String clusterId = newClusterId;
      Map<String, String> env = configEnvironment();
      for (Path c : configs) {
        ServerConfig config = ServerConfigLoader.load(c, Map.of(), env);
        if (config.join()) {
          throw new IllegalArgumentException(c + ": join is true; a restored cluster's first members start from "
              + "the backup (join: false), later members join it as usual");
        }
        String id = config.clusterId().toString();
        if (clusterId != null && !clusterId.equals(id)) {
          throw new IllegalArgumentException(c + ": cluster-id " + id + " differs from " + clusterId
              + (newClusterId != null ? " (--cluster-id)" : " in the configs before it")
              + "; one restore seeds one cluster");
        }
        clusterId = id;
        targets.add(new Path[] {config.restoreSeedFile(), config.raftLogDir()});
      }
      for (int i = 0; i < dataDirs.size(); i++) {
        Path d = dataDirs.get(i);
        targets.add(new Path[] {d.resolve("restore").resolve("seed.snapshot"),
            raftLogDirs.isEmpty() ? d.resolve("raft") : raftLogDirs.get(i)});
      }
      if (clusterId == null) {
        clusterId = backup.header().getClusterId(); // --data-dir with --reuse-cluster-id only: the backup's
      }
      java.util.Set<Path> named = new java.util.HashSet<>();
      for (Path[] t : targets) {
        for (Path p : t) {
          if (!named.add(p.toAbsolutePath().normalize())) {
            throw new IllegalArgumentException(p + " belongs to two of the nodes named: each --config or --data-dir "
                + "must be a node of its own");
          }
        }
      }
      String backupCluster = backup.header().getClusterId();
      if (clusterId.equals(backupCluster) && !reuseClusterId) {
        throw precondition("the new nodes are for cluster-id " + clusterId + ", the cluster this backup was taken "
            + "from: a member of it that was unreachable rather than gone could come back as a member of the "
            + "restored one. Give the new cluster a new cluster-id, or pass --reuse-cluster-id once every old "
            + "member is stopped and its data dir moved aside");
      }
      Integer me = uidOf(Path.of("/proc/self"));
      for (Path[] t : targets) {
        Path dataDir = t[0].toAbsolutePath().getParent().getParent();
        Integer owner = dataDir != null && Files.isDirectory(dataDir) ? uidOf(dataDir) : null;
        if (me != null && owner != null && me != 0 && !owner.equals(me)) {
          // The node renames its seed as the data dir's owner; only root can give the seed to it.
          String name = Files.getOwner(dataDir).getName();
          throw precondition(dataDir + " belongs to " + name + " (uid " + owner + "): run the restore as that user "
              + "(sudo -u " + name + ") or as root");
        }
        if (Files.exists(t[0])) {
          throw precondition(t[0] + " exists: that node already waits for a restore");
        }
        if (Files.isDirectory(t[1])) {
          try (var entries = Files.list(t[1])) {
            if (entries.findAny().isPresent()) {
              throw precondition(t[1] + " already holds Raft state: restore into the empty data dirs "
                  + "of a new cluster");
            }
          }
        }
      }
      // The epoch is chosen, and recorded beside the backup, before anything is written: under the
      // ledger's lock (two restores at once take different epochs) and forced to disk (a power cut
      // after the seeds cannot lose it). A seeding that fails afterwards only leaves an epoch unused.
      RestoreLedger ledger = RestoreLedger.beside(file);
      String sha = BackupFile.hex(backup.header().getSha256().toByteArray());
      String cluster = clusterId;
      OptionalLong requested = fencingEpoch == null ? OptionalLong.empty() : OptionalLong.of(fencingEpoch);
      long epoch;
      try {
        epoch = ledger.chooseAndRecord(backup.image().fencingEpoch(), sha, cluster, requested,
            Instant.now().toString(), file.getFileName().toString());
      } catch (IOException e) {
        // Not lockable, readable or writable (a read-only backup directory). An epoch chosen here
        // would go unrecorded: a later restore of this backup would choose it again and grant the
        // same tokens. So only an epoch the operator names, who then knows to keep it.
        List<RestoreLedger.Entry> recorded = null;
        try {
          recorded = ledger.read();
        } catch (IOException | IllegalArgumentException unreadable) {
          if (fencingEpoch == null) {
            throw precondition("cannot use the restore ledger " + ledger.file() + " (" + IoErrors.reason(e)
                + "): pass --fencing-epoch, above every epoch this cluster's line has used");
          }
        }
        if (fencingEpoch == null) {
          String would;
          try {
            would = " (" + RestoreLedger.choose(backup.image().fencingEpoch(), sha, cluster, requested, recorded)
                + " by what the ledger says)";
          } catch (IllegalArgumentException unsure) {
            would = "";
          }
          throw precondition("cannot record the new fencing epoch in the restore ledger " + ledger.file() + " ("
              + IoErrors.reason(e) + "): unrecorded, a later restore of this backup would choose the same epoch "
              + "and its cluster would grant the same tokens. Make the ledger writable, or pass --fencing-epoch"
              + would + " and keep a note of it with the backups: a later restore must pass one above it");
        }
        epoch = RestoreLedger.choose(backup.image().fencingEpoch(), sha, cluster, requested,
            recorded == null ? List.of() : recorded);
        spec.commandLine().getErr().println("warning: could not record fencing epoch " + epoch + " in "
            + ledger.file() + " (" + IoErrors.reason(e) + "); a later restore must pass --fencing-epoch above "
            + epoch);
      }
      StateImage seed = null;
      List<String> seeded = new ArrayList<>();
      List<String> raftDirs = new ArrayList<>();
      for (Path[] t : targets) {
        seed = RestoreSeed.write(backup, t[0], t[1], epoch);
        seeded.add(t[0].toString());
        raftDirs.add(t[1].toString());
      }
      Map<String, Object> doc = new LinkedHashMap<>(describe(backup.header()));
      doc.put("seeded", seeded);
      doc.put("raft_log_dirs", raftDirs); // checked empty: where each node's Raft state must be
      doc.put("restore_ledger", ledger.file().toString());
      doc.put("new_fencing_epoch", seed.fencingEpoch());
      doc.put("lowest_new_token", FencingToken.value(seed.fencingEpoch(), seed.lastAppliedIndex() + 1));
      print(spec, output == Output.Format.json, doc);
      return ExitCodes.OK;
    }
  }
}
