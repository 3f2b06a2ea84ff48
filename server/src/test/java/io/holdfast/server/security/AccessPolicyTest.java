package io.holdfast.server.security;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class AccessPolicyTest {
  private final AccessPolicy policy = new AccessPolicy(List.of(
      new AccessRule("orchestrator", "fleet/", Set.of(Verb.LOCK, Verb.WRITE, Verb.READ)),
      new AccessRule("agent-*", "fleet/", Set.of(Verb.READ, Verb.WATCH)),
      new AccessRule("fleet-ops", "fleet/", Set.of(Verb.ADMIN)),
      new AccessRule("sre", "", Set.of(Verb.ADMIN))));

  @Test
  void verbsHoldPerPrefixAndIdentity() {
    assertTrue(policy.allows("orchestrator", Verb.LOCK, "fleet/config"));
    assertTrue(policy.allows("orchestrator", Verb.WRITE, "fleet/config"));
    assertFalse(policy.allows("orchestrator", Verb.WATCH, "fleet/config"));
    assertFalse(policy.allows("orchestrator", Verb.LOCK, "billing/x"));
    assertFalse(policy.allows("orchestrator", Verb.ADMIN, "fleet/config"));
    assertFalse(policy.allows("orchestrator", Verb.LOCK, "fleet"), "the prefix is matched as text: 'fleet' is outside 'fleet/'");
  }

  @Test
  void globsMatchWholeIdentities() {
    assertTrue(policy.allows("agent-7", Verb.READ, "fleet/config"));
    assertTrue(policy.allows("agent-", Verb.WATCH, "fleet/a"));
    assertFalse(policy.allows("agent-7", Verb.LOCK, "fleet/config"));
    assertFalse(policy.allows("xagent-7", Verb.READ, "fleet/config"));
    assertFalse(policy.allows("orchestrator2", Verb.LOCK, "fleet/config"));
    assertTrue(new AccessRule("a*b*c", "", Set.of(Verb.READ)).matchesIdentity("aXXbYYc"));
    assertFalse(new AccessRule("a*b*c", "", Set.of(Verb.READ)).matchesIdentity("aXXbYYcd"));
  }

  @Test
  void adminImpliesEveryVerbUnderItsPrefixOnly() {
    for (Verb v : Verb.values()) {
      assertTrue(policy.allows("sre", v, "anything/at/all"));
      assertTrue(policy.allows("fleet-ops", v, "fleet/x"));
      assertFalse(policy.allows("fleet-ops", v, "billing/x"));
    }
    assertTrue(policy.allowsAllUnder("sre", Verb.ADMIN, ""));
    assertFalse(policy.allowsAllUnder("fleet-ops", Verb.ADMIN, ""), "admin of fleet/ is not admin of everything");
  }

  @Test
  void wholePrefixesNeedARuleCoveringThem() {
    assertTrue(policy.allowsAllUnder("agent-1", Verb.WATCH, "fleet/"));
    assertTrue(policy.allowsAllUnder("agent-1", Verb.WATCH, "fleet/eu/"));
    assertFalse(policy.allowsAllUnder("agent-1", Verb.WATCH, "fle"));
    assertFalse(policy.allowsAllUnder("agent-1", Verb.WATCH, ""));
  }

  @Test
  void withoutRulesEverythingIsAllowedAndNobodyElseIsWithRules() {
    AccessPolicy open = new AccessPolicy(List.of());
    assertTrue(open.isOpen());
    assertTrue(open.allows("anonymous", Verb.ADMIN, "x"));
    assertFalse(policy.allows("anonymous", Verb.READ, "fleet/x"));
  }
}
