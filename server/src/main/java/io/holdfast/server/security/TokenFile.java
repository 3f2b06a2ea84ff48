package io.holdfast.server.security;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Bearer tokens for dev and tests: a file of {@code identity token} lines ({@code #} starts a
 * comment). Re-read when its content changes (checked at most once a second), so tokens rotate
 * without a restart. New content is taken once two checks at least half a second apart read the
 * same, so a file caught half-way through an in-place rewrite is never taken (its last line cut
 * short would be a valid, shorter token); a file that turns unreadable, malformed or empty keeps the
 * last good tokens (and is logged). Thread-safe.
 */
public final class TokenFile {
  private static final Logger LOG = LoggerFactory.getLogger(TokenFile.class);
  private static final long CHECK_EVERY_NANOS = 1_000_000_000L;

  private final Path file;
  private volatile Map<String, String> identityByTokenHash = Map.of();
  private volatile String loadedContent;
  /** Changed content read and not yet taken, and when it was first read. */
  private String pendingContent;
  private long pendingSince;
  private final long stableNanos;
  /** Changed content is taken once it reads the same this long after it was first read. */
  private static final long STABLE_NANOS = 500_000_000L;
  private volatile long lastCheck;

  public TokenFile(Path file) {
    this(file, STABLE_NANOS);
  }

  /** {@code stableNanos}: how long changed content must stay the same before it is taken (tests: 0). */
  TokenFile(Path file, long stableNanos) {
    this.file = file;
    this.stableNanos = stableNanos;
    reload(true);
  }

  /** The identity {@code token} belongs to, or null. */
  public String identityOf(String token) {
    long now = System.nanoTime();
    if (now - lastCheck > CHECK_EVERY_NANOS) {
      lastCheck = now;
      reload(false);
    }
    // Keyed by hash so that the lookup does not compare the secret itself character by character.
    return identityByTokenHash.get(hash(token));
  }

  /**
   * Whether the token with hash {@code tokenHash} still belongs to {@code identity}, after reading
   * the file again if it changed: false once it was removed or given to another identity.
   */
  public boolean stillNames(String tokenHash, String identity) {
    return identity.equals(identityByTokenHash.get(tokenHash));
  }

  /**
   * Reads the file now if it changed (the once-a-second check does the same); changed content is
   * taken by a later read that finds it unchanged after the stable time.
   */
  public synchronized void reload(boolean first) {
    try {
      // By content, not modification time: a rewrite caught half-way (truncated, then written) can
      // end within the time's resolution, and its finished state would never be read.
      byte[] bytes = Files.readAllBytes(file);
      String content = hash(new String(bytes, StandardCharsets.UTF_8));
      if (!first && content.equals(loadedContent)) {
        pendingContent = null;
        return;
      }
      long now = System.nanoTime();
      if (!first && !content.equals(pendingContent)) {
        pendingContent = content;
        pendingSince = now;
        return;
      }
      if (!first && now - pendingSince < stableNanos) {
        return; // read again too soon: a slow rewrite may still be in the same place
      }
      pendingContent = null;
      if (!first && bytes.length == 0) {
        throw new IOException("it is empty (a rewrite in progress?); a file of comments revokes every token");
      }
      Map<String, String> out = new HashMap<>();
      Map<String, Integer> lineOf = new HashMap<>();
      List<String> lines = new String(bytes, StandardCharsets.UTF_8).lines().toList();
      for (int i = 0; i < lines.size(); i++) {
        String line = lines.get(i).strip();
        if (line.isEmpty() || line.startsWith("#")) {
          continue;
        }
        String[] f = line.split("\\s+");
        if (f.length != 2) {
          throw new IOException(file + " line " + (i + 1) + ": expected 'identity token'");
        }
        if (f[0].equals(Identity.ANONYMOUS.name())) {
          throw new IOException(file + " line " + (i + 1) + ": '" + f[0] + "' is the name of unauthenticated clients");
        }
        String tokenHash = hash(f[1]);
        String other = out.put(tokenHash, f[0]);
        if (other != null && !other.equals(f[0])) {
          // One token for two identities would authenticate as whichever line came last.
          throw new IOException(file + " line " + (i + 1) + ": identity '" + f[0] + "' has the token of identity '"
              + other + "' (line " + lineOf.get(tokenHash) + "); each identity needs its own");
        }
        lineOf.put(tokenHash, i + 1);
      }
      identityByTokenHash = Map.copyOf(out);
      loadedContent = content;
      LOG.info("Loaded {} bearer tokens from {}", out.size(), file);
    } catch (IOException e) {
      if (first) {
        throw new IllegalArgumentException("auth-token-file: " + e.getMessage(), e);
      }
      LOG.warn("Keeping the previous tokens: cannot reload {}: {}", file, e.getMessage());
    }
  }

  static String hash(String token) {
    try {
      return java.util.HexFormat.of().formatHex(
          MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is always available", e);
    }
  }
}
