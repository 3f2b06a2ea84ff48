package io.holdfast.server.security;

import java.util.List;

/**
 * The configured ACL. A call is allowed when some rule matches the caller's identity, grants the
 * verb (or {@code admin}) and has a prefix of the name. With no rules at all everything is allowed
 * (the dev setup; the server warns at start). Immutable and thread-safe.
 */
public final class AccessPolicy {
  private final List<AccessRule> rules;

  public AccessPolicy(List<AccessRule> rules) {
    this.rules = List.copyOf(rules);
  }

  public boolean isOpen() {
    return rules.isEmpty();
  }

  public List<AccessRule> rules() {
    return rules;
  }

  /** Whether {@code identity} may use {@code verb} on the lock or key {@code name}. */
  public boolean allows(String identity, Verb verb, String name) {
    if (rules.isEmpty()) {
      return true;
    }
    for (AccessRule r : rules) {
      if (r.grants(verb) && name.startsWith(r.prefix()) && r.matchesIdentity(identity)) {
        return true;
      }
    }
    return false;
  }

  /**
   * Whether {@code identity} may use {@code verb} on every name under {@code prefix} (a watch or a
   * listing of a whole prefix): some rule's prefix must be a prefix of it.
   */
  public boolean allowsAllUnder(String identity, Verb verb, String prefix) {
    return allows(identity, verb, prefix);
  }
}
