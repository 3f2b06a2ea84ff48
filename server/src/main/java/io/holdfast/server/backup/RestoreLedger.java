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
    if (!Files.exists(file)) {
      return new ArrayList<>();
    }
    return parse(Files.readString(file, StandardCharsets.UTF_8));
  }

  /**
   * Chooses the epoch for a restore (see {@link #choose}) and records it, durably, before anything
   * is seeded, holding the ledger's file lock from the read to the write: two restores at once
   * would otherwise both read the same ledger and take the same epoch, and a power cut after the
   * seeds were written could lose the record of one.
   *
   * @throws IOException when the ledger cannot be read, locked or written
   * @throws IllegalArgumentException when the epoch cannot be chosen safely (see {@link #choose})
   */
  public long chooseAndRecord(long backupEpoch, String sha, String clusterId, OptionalLong requested,
      String restoredAt, String backupName) throws IOException {
    try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file, StandardOpenOption.CREATE,
        StandardOpenOption.READ, StandardOpenOption.WRITE);
        java.nio.channels.FileLock ignored = ch.lock()) {
      byte[] all = new byte[Math.toIntExact(ch.size())];
      java.nio.ByteBuffer buf = java.nio.ByteBuffer.wrap(all);
      while (buf.hasRemaining() && ch.read(buf, buf.position()) >= 0) {
        // read until full
      }
      List<Entry> recorded;
      try {
        recorded = parse(new String(all, StandardCharsets.UTF_8));
      } catch (IllegalArgumentException unreadable) {
        throw new IOException(unreadable.getMessage(), unreadable);
      }
      long epoch = choose(backupEpoch, sha, clusterId, requested, recorded);
      Entry e = new Entry(epoch, sha, clusterId, restoredAt, backupName);
      boolean known = recorded.stream().anyMatch(old -> old.epoch() == e.epoch()
          && old.backupSha256().equals(e.backupSha256()) && old.clusterId().equals(e.clusterId()));
      if (!known) {
        // A last line written by hand without its newline must not swallow this record.
        String text = (all.length == 0 ? HEADER : all[all.length - 1] != '\n' ? "\n" : "") + e.line();
        ch.write(java.nio.ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)), ch.size());
        ch.force(true);
      }
      return epoch;
    }
  }

  private static final String HEADER = "# epoch\tbackup sha256\tcluster id\trestored at\tbackup file\n";

  private List<Entry> parse(String text) {
    List<Entry> out = new ArrayList<>();
    int n = 0;
    for (String raw : text.split("\n", -1)) {
      n++;
      // A ledger saved by an editor with CRLF line ends must still name the same backup files.
      String line = raw.endsWith("\r") ? raw.substring(0, raw.length() - 1) : raw;
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
