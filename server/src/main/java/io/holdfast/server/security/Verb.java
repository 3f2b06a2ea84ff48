package io.holdfast.server.security;

import java.util.Locale;

/** What an identity may do under a name prefix. {@link #ADMIN} implies every other verb. */
public enum Verb {
  /** Acquire, release and cancel waits on locks. */
  LOCK,
  /** Describe and list locks, get and list keys, validate fences, list the audit log. */
  READ,
  /** Put and delete keys. */
  WRITE,
  /** Watch lock and key events (with read: the events show values and holders). */
  WATCH,
  /** Revoke locks, expire sessions, see every session; implies the other verbs. */
  ADMIN;

  public String configName() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** The verb named {@code s} (as written in config), or null. */
  public static Verb parse(String s) {
    for (Verb v : values()) {
      if (v.configName().equals(s.trim().toLowerCase(Locale.ROOT))) {
        return v;
      }
    }
    return null;
  }
}
