package io.holdfast.server.state;

import java.util.regex.Pattern;

/**
 * The rules for names and ids, shared by the front door (which refuses bad input early, with a
 * precise message) and apply (which refuses it again, deterministically, should it get through).
 */
public final class Names {
  public static final int MAX_LOCK_NAME = 256;
  public static final int MAX_REQUEST_ID = 128;
  private static final Pattern LOCK_NAME = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9._:/-]*");

  private Names() {}

  /** Returns null when the name is valid, else why not. */
  public static String checkLockName(String name) {
    if (name == null || name.isEmpty()) {
      return "lock name must not be empty";
    }
    if (name.length() > MAX_LOCK_NAME) {
      return "lock name is " + name.length() + " characters long; the limit is " + MAX_LOCK_NAME;
    }
    if (!LOCK_NAME.matcher(name).matches()) {
      return "lock name '" + printable(name) + "' may contain only letters, digits and . _ : / -,"
          + " and must start with a letter, digit or _";
    }
    if (name.endsWith("/") || name.contains("//")) {
      return "lock name '" + name + "' must not end with '/' or contain '//'";
    }
    for (String part : name.split("/")) {
      if (part.equals(".") || part.equals("..")) {
        return "lock name '" + name + "' must not contain '.' or '..' path segments";
      }
    }
    return null;
  }

  /** Returns null when the key is valid (keys follow the lock name rules), else why not. */
  public static String checkKey(String key) {
    String bad = checkLockName(key);
    return bad == null ? null : bad.replace("lock name", "key");
  }

  /** Returns null when the request id is valid, else why not. */
  public static String checkRequestId(String requestId) {
    if (requestId == null || requestId.isEmpty()) {
      return "request_id must not be empty (choose one per call and reuse it on retry)";
    }
    if (requestId.length() > MAX_REQUEST_ID) {
      return "request_id is " + requestId.length() + " characters long; the limit is " + MAX_REQUEST_ID;
    }
    return null;
  }

  /**
   * A request id derived from another (the front door's own follow-up to a client's call), kept
   * within {@link #MAX_REQUEST_ID}: a long base is replaced by its SHA-256, so the derived id is
   * still the same on every retry.
   */
  public static String derivedRequestId(String base, String suffix) {
    if (base.length() + suffix.length() <= MAX_REQUEST_ID) {
      return base + suffix;
    }
    try {
      byte[] h = java.security.MessageDigest.getInstance("SHA-256")
          .digest(base.getBytes(java.nio.charset.StandardCharsets.UTF_8));
      return java.util.HexFormat.of().formatHex(h) + suffix;
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is always available", e);
    }
  }

  /** Shortens and escapes a name for an error message. */
  public static String printable(String s) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < s.length() && b.length() < 80; i++) {
      char c = s.charAt(i);
      if (c < 0x20 || c > 0x7e) {
        b.append(String.format("\\u%04x", (int) c));
      } else {
        b.append(c);
      }
    }
    if (b.length() >= 80) {
      b.append("...");
    }
    return b.toString();
  }
}
