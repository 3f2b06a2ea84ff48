package io.holdfast.server.backup;

import io.holdfast.server.state.FencingToken;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;

/**
 * The fencing epochs that restores have used, kept in a file beside the backups
 * ({@value #FILE_NAME}). A restored cluster runs one epoch above its backup, but two restores from
 * backups of the same epoch (the first restored cluster was lost before its own first backup) would
 * then share an epoch, and the second would grant tokens the first already granted. The ledger lets
 * a restore pick an epoch above every one used before.
 *
 * <p>One line per restore, tab-separated: epoch, the backup's SHA-256, the new cluster's id (empty
 * when unknown), the time, the backup file's name.
 */
public final class RestoreLedger {
  public static final String FILE_NAME = "holdfast-restores.tsv";

  /** One restore as recorded. */
  public record Entry(long epoch, String backupSha256, String clusterId, String restoredAt, String backupName) {
    String line() {
      return epoch + "\t" + backupSha256 + "\t" + clusterId + "\t" + restoredAt + "\t" + backupName + "\n";
    }
  }

  private final Path file;

  public RestoreLedger(Path file) {
    this.file = file;
  }

  /** The ledger in the directory that holds {@code backupFile}. */
  public static RestoreLedger beside(Path backupFile) {
    Path dir = backupFile.toAbsolutePath().getParent();
    return new RestoreLedger(dir.resolve(FILE_NAME));
  }

  public Path file() {
    return file;
  }

  /** The restores recorded so far; none if the file does not exist. */
  public List<Entry> read() throws IOException {
    List<Entry> out = new ArrayList<>();
    if (!Files.exists(file)) {
      return out;
    }
    int n = 0;
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      n++;
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      String[] f = line.split("\t", -1);
      try {
        if (f.length != 5) {
          throw new NumberFormatException("5 tab-separated fields expected, got " + f.length);
        }
        out.add(new Entry(Long.parseLong(f[0].trim()), f[1], f[2], f[3], f[4]));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(file + " line " + n + " is not a restore record (" + e.getMessage()
            + "); fix or move the file, or pass --fencing-epoch");
      }
    }
    return out;
  }

  /** Adds {@code e}, unless the ledger already holds the same restore. */
  public void record(Entry e) throws IOException {
    for (Entry old : read()) {
      if (old.epoch() == e.epoch() && old.backupSha256().equals(e.backupSha256())
          && old.clusterId().equals(e.clusterId())) {
        return;
      }
    }
    if (!Files.exists(file)) {
      Files.writeString(file, "# epoch\tbackup sha256\tcluster id\trestored at\tbackup file\n", StandardCharsets.UTF_8,
          StandardOpenOption.CREATE_NEW);
    }
    Files.writeString(file, e.line(), StandardCharsets.UTF_8, StandardOpenOption.APPEND);
  }

  /**
   * The epoch a restore of the backup ({@code backupEpoch}, {@code sha}) into cluster
   * {@code clusterId} runs in, given the restores in {@code ledger} and the operator's
   * {@code requested} epoch, if any. Without one it is the first epoch above the backup's and above
   * every one in the ledger. An epoch the ledger already gives the same backup and cluster is taken
   * only when asked for by name: that may be the rest of one cluster seeded host by host, or a second
   * cluster after the first was lost, and only the operator knows which.
   *
   * @throws IllegalArgumentException with the choices, when the epoch cannot be chosen safely
   */
  public static long choose(long backupEpoch, String sha, String clusterId, OptionalLong requested,
      List<Entry> ledger) {
    long highest = backupEpoch;
    Entry same = null;
    for (Entry e : ledger) {
      highest = Math.max(highest, e.epoch());
      if (e.backupSha256().equals(sha) && e.clusterId().equals(clusterId)) {
        same = e;
      }
    }
    long fresh = highest + 1;
    if (requested.isPresent()) {
      long r = requested.getAsLong();
      if (r <= backupEpoch) {
        throw new IllegalArgumentException("--fencing-epoch " + r + " is not above the backup's epoch " + backupEpoch
            + ": the restored cluster's tokens must be above every token of the cluster the backup came from");
      }
      if (r > FencingToken.MAX_EPOCH) {
        throw new IllegalArgumentException("--fencing-epoch " + r + " is above the last epoch, "
            + FencingToken.MAX_EPOCH);
      }
      if (r >= fresh || (same != null && r == same.epoch())) {
        return r;
      }
      throw new IllegalArgumentException("--fencing-epoch " + r + " is not above epoch " + highest
          + ", already used by a restore recorded in the ledger; pass " + fresh + " or more"
          + (same != null ? ", or " + same.epoch() + " to seed more nodes of the cluster restored at "
              + same.restoredAt() : ""));
    }
    if (fresh > FencingToken.MAX_EPOCH) {
      throw new IllegalArgumentException("epoch " + fresh + " would be above the last epoch, " + FencingToken.MAX_EPOCH);
    }
    if (same != null) {
      throw new IllegalArgumentException("this backup was restored into cluster '" + clusterId + "' in fencing epoch "
          + same.epoch() + " at " + same.restoredAt() + ". To seed more nodes of that same cluster, pass "
          + "--fencing-epoch " + same.epoch() + ". If that cluster ran and was lost, pass --fencing-epoch " + fresh
          + ": a cluster that reuses its epoch would grant tokens it already granted");
    }
    return fresh;
  }
}
