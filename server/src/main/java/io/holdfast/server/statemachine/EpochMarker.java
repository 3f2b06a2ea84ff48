package io.holdfast.server.statemachine;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.OptionalLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The fencing epoch this node's state belongs to, kept beside Ratis's directories rather than in
 * its snapshot directory, which a snapshot install replaces whole. A node refuses any state in
 * another epoch, at start as well as at an install: the check of an install alone lasted only
 * until the node was restarted, and it then took the other epoch's snapshot as its own.
 */
final class EpochMarker {
  private static final Logger LOG = LoggerFactory.getLogger(EpochMarker.class);
  static final String FILE_NAME = "holdfast-fencing-epoch";

  private final Path file;
  private volatile boolean recorded;

  EpochMarker(Path dir) {
    this.file = dir.resolve(FILE_NAME);
    this.recorded = Files.exists(file);
  }

  Path file() {
    return file;
  }

  /** The epoch recorded, or empty before the node held any state. */
  OptionalLong read() throws IOException {
    if (!Files.exists(file)) {
      return OptionalLong.empty();
    }
    String text = Files.readString(file, StandardCharsets.UTF_8).trim();
    try {
      return OptionalLong.of(Long.parseLong(text));
    } catch (NumberFormatException e) {
      throw new IOException(file + " does not hold a fencing epoch (\"" + text + "\"); it is written by Holdfast, "
          + "not by hand", e);
    }
  }

  boolean recorded() {
    return recorded;
  }

  /** Records {@code epoch} durably unless an epoch is recorded already. A failure is logged only. */
  void recordIfAbsent(long epoch) {
    if (recorded) {
      return;
    }
    try {
      if (!Files.exists(file)) {
        Path tmp = file.resolveSibling(FILE_NAME + ".tmp");
        Files.writeString(tmp, epoch + "\n", StandardCharsets.UTF_8);
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
          ch.force(true);
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
        try (FileChannel dir = FileChannel.open(file.getParent(), StandardOpenOption.READ)) {
          dir.force(true);
        }
      }
      recorded = true;
    } catch (IOException | RuntimeException e) {
      // Tried again at the next load or entry; the per-entry epoch check still holds meanwhile.
      LOG.warn("Could not record this node's fencing epoch {} in {}: {}", epoch, file, e.toString());
    }
  }
}
