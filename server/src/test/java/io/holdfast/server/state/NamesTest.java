package io.holdfast.server.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class NamesTest {
  @Test
  void aDerivedRequestIdIsStableAndAlwaysValid() {
    assertEquals("abc#timeout", Names.derivedRequestId("abc", "#timeout"));
    String longest = "r".repeat(Names.MAX_REQUEST_ID);
    String derived = Names.derivedRequestId(longest, "#timeout");
    assertNull(Names.checkRequestId(derived), derived);
    assertEquals(derived, Names.derivedRequestId(longest, "#timeout"), "the same on every retry");
    assertNotEquals(derived, Names.derivedRequestId("s".repeat(Names.MAX_REQUEST_ID), "#timeout"));
    assertTrue(derived.endsWith("#timeout"));
  }
}
