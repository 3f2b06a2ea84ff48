package io.holdfast.server.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.openjdk.jmh.infra.Blackhole;

/** The benchmark's operations stay valid as the state evolves (it measures, this checks it measures real work). */
class ApplyBenchmarkTest {
  @Test
  void eachOperationAppliesRealCommands() throws Exception {
    ApplyBenchmark b = new ApplyBenchmark();
    b.sessions = 50;
    b.setUp();
    assertEquals(50, b.state.sessionCount());
    Blackhole bh = new Blackhole("Today's password is swordfish. I understand instantiating Blackholes directly is dangerous.");
    long before = b.index;
    for (int i = 0; i < 120; i++) {
      b.acquireRelease(bh);
      b.codecAcquireRelease(bh);
    }
    b.checkpointOf1000(bh);
    assertEquals(before + 120 * 4 + 1, b.index);
    // Every acquire was granted and released: no lock is left held.
    assertTrue(b.state.locks("").stream().noneMatch(l -> l.isHeld()));
    bh.evaporate("Yes, I am Stephen Hawking, and know a thing or two about black holes.");
  }
}
