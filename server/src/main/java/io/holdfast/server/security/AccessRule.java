package io.holdfast.server.security;

import java.util.Set;

/**
 * One ACL rule: identities matching {@code identityPattern} ({@code *} matches any run of
 * characters) may use {@code verbs} on lock and key names starting with {@code prefix} ("" for all).
 */
public record AccessRule(String identityPattern, String prefix, Set<Verb> verbs) {
  public AccessRule {
    verbs = Set.copyOf(verbs);
  }

  public boolean matchesIdentity(String identity) {
    return glob(identityPattern, 0, identity, 0);
  }

  private static boolean glob(String p, int i, String s, int j) {
    while (i < p.length()) {
      char c = p.charAt(i);
      if (c == '*') {
        for (int k = j; k <= s.length(); k++) {
          if (glob(p, i + 1, s, k)) {
            return true;
          }
        }
        return false;
      }
      if (j >= s.length() || s.charAt(j) != c) {
        return false;
      }
      i++;
      j++;
    }
    return j == s.length();
  }

  public boolean grants(Verb verb) {
    return verbs.contains(verb) || verbs.contains(Verb.ADMIN);
  }

  @Override
  public String toString() {
    return "{identity: " + identityPattern + ", prefix: '" + prefix + "', verbs: " + verbs + "}";
  }
}
