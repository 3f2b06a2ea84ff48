package io.holdfast.server.backup;

import com.google.protobuf.InvalidProtocolBufferException;
import io.holdfast.proto.v1.SnapshotHeader;
import io.holdfast.server.state.StateImage;
import io.holdfast.server.statemachine.SnapshotCodec;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;

/**
 * A backup file: the magic line {@code HOLDFAST-BACKUP\n}, the {@link SnapshotHeader}
 * (length-delimited protobuf: format version, cluster id, index, fencing epoch, size, SHA-256),
 * then the state in the snapshot encoding ({@link SnapshotCodec}). Reading checks all of it, so a
 * truncated or altered file is refused before anything is restored from it.
 */
public record BackupFile(SnapshotHeader header, byte[] state) {
  public static final int FORMAT_VERSION = 1;
  static final byte[] MAGIC = "HOLDFAST-BACKUP\n".getBytes(StandardCharsets.US_ASCII);

  /** Checks the state against the header: size, checksum, and that it decodes. */
  public BackupFile {
    if (header.getFormatVersion() != FORMAT_VERSION) {
      throw new IllegalArgumentException("backup format " + header.getFormatVersion() + " is not supported (this "
          + "version reads format " + FORMAT_VERSION + ")");
    }
    if (state.length != header.getSizeBytes()) {
      throw new IllegalArgumentException("backup is truncated or padded: the header says " + header.getSizeBytes()
          + " bytes of state, there are " + state.length);
    }
    if (!Arrays.equals(sha256(state), header.getSha256().toByteArray())) {
      throw new IllegalArgumentException("backup checksum mismatch: the state's SHA-256 is not the one in its header");
    }
  }

  /** The state, decoded. */
  public StateImage image() {
    try {
      StateImage img = SnapshotCodec.decode(state);
      if (img.lastAppliedIndex() != header.getAppliedIndex() || img.fencingEpoch() != header.getFencingEpoch()) {
        throw new IllegalArgumentException("backup header (index " + header.getAppliedIndex() + ", epoch "
            + header.getFencingEpoch() + ") does not match its state (index " + img.lastAppliedIndex() + ", epoch "
            + img.fencingEpoch() + ")");
      }
      return img;
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalArgumentException("backup state does not decode: " + e.getMessage());
    }
  }

  public static byte[] sha256(byte[] bytes) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(bytes);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }

  public static String hex(byte[] bytes) {
    StringBuilder b = new StringBuilder();
    for (byte x : bytes) {
      b.append(String.format("%02x", x));
    }
    return b.toString();
  }

  /**
   * Writes the file via a temporary sibling and an atomic move, fsync'd: never a torn backup. It is
   * readable by its owner only (where the file system has POSIX modes): it holds every key's value
   * and every session's identity. A failed write leaves no temporary file behind, and its message
   * says where and why.
   */
  public void write(Path file) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream(state.length + 256);
    out.write(MAGIC);
    header.writeDelimitedTo(out);
    out.write(state);
    Path abs = file.toAbsolutePath();
    Path tmp = abs.resolveSibling(abs.getFileName() + ".tmp");
    boolean moved = false;
    try {
      Files.deleteIfExists(tmp); // a leftover of a killed save; created anew below with its mode
      try (FileChannel ch = FileChannel.open(tmp, java.util.Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
          ownerOnly(tmp))) {
        java.nio.ByteBuffer buf = java.nio.ByteBuffer.wrap(out.toByteArray());
        while (buf.hasRemaining()) {
          ch.write(buf);
        }
        ch.force(true);
      }
      Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      moved = true;
      // Reported as saved only once the rename is durable too: a power cut must not lose the backup.
      try (FileChannel dir = FileChannel.open(abs.getParent(), StandardOpenOption.READ)) {
        dir.force(true);
      }
    } catch (IOException e) {
      throw new IOException("cannot write the backup to " + abs + ": " + describe(e), e);
    } finally {
      if (!moved) {
        try {
          Files.deleteIfExists(tmp);
        } catch (IOException ignored) {
          // the message above already says what went wrong
        }
      }
    }
  }

  /** Mode 0600 where the file system has POSIX permissions (the umask only narrows it). */
  private static java.nio.file.attribute.FileAttribute<?>[] ownerOnly(Path file) {
    if (!file.getFileSystem().supportedFileAttributeViews().contains("posix")) {
      return new java.nio.file.attribute.FileAttribute<?>[0];
    }
    return new java.nio.file.attribute.FileAttribute<?>[] {java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
        java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"))};
  }

  /** An IO failure in words: the JDK's NoSuchFileException says only the path. */
  private static String describe(IOException e) {
    if (e instanceof java.nio.file.NoSuchFileException) {
      return "no such file or directory: " + e.getMessage();
    }
    if (e instanceof java.nio.file.AccessDeniedException) {
      return "permission denied: " + e.getMessage();
    }
    if (e instanceof java.nio.file.FileSystemException f && f.getReason() != null) {
      return f.getReason() + ": " + f.getFile();
    }
    return String.valueOf(e.getMessage());
  }

  /** Reads and checks a backup file; the message says what is wrong with a bad one (the caller names the file). */
  public static BackupFile read(Path file) throws IOException {
    byte[] all = Files.readAllBytes(file);
    if (all.length < MAGIC.length || !Arrays.equals(Arrays.copyOf(all, MAGIC.length), MAGIC)) {
      throw new IllegalArgumentException("not a Holdfast backup (no HOLDFAST-BACKUP header)");
    }
    InputStream in = new ByteArrayInputStream(all, MAGIC.length, all.length - MAGIC.length);
    SnapshotHeader header;
    try {
      header = SnapshotHeader.parseDelimitedFrom(in);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalArgumentException("backup header does not decode: " + e.getMessage());
    }
    if (header == null) {
      throw new IllegalArgumentException("backup header is missing");
    }
    byte[] state = in.readAllBytes();
    return new BackupFile(header, state);
  }
}
