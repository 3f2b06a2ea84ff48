package io.holdfast.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FencingGuardTest {
  @TempDir
  Path dir;

  @Test
  void refusesTokensOlderThanTheNewestAdmittedPerLock() {
    FencingGuard guard = FencingGuard.inMemory();
    assertTrue(guard.admit("fleet/config", 40));
    assertTrue(guard.admit("fleet/config", 40), "the same holder may write again");
    assertTrue(guard.admit("fleet/config", 57));
    assertFalse(guard.admit("fleet/config", 40), "the old holder is refused once the lock moved on");
    assertFalse(guard.admit("fleet/config", 56));
    assertTrue(guard.admit("other/lock", 3), "locks are fenced independently");
    assertEquals(57, guard.newest("fleet/config").getAsLong());
  }

  @Test
  void aFileBackedGuardRemembersAcrossRestarts() {
    Path file = dir.resolve("state/fencing.properties");
    FencingGuard first = FencingGuard.fileBacked(file);
    assertTrue(first.admit("fleet/config", 120));
    assertTrue(first.admit("a b=c:d", 7), "any lock name survives the file format");

    FencingGuard restarted = FencingGuard.fileBacked(file);
    assertFalse(restarted.admit("fleet/config", 119), "a restart must not make an older token acceptable");
    assertTrue(restarted.admit("fleet/config", 121));
    assertEquals(7, restarted.newest("a b=c:d").getAsLong());
    assertFalse(FencingGuard.fileBacked(file).admit("fleet/config", 120));
  }

  @Test
  void aTokenNoGrantHasIsRefusedEvenForANewLock() {
    for (FencingGuard guard : new FencingGuard[] {FencingGuard.inMemory(),
        FencingGuard.fileBacked(dir.resolve("fencing.properties"))}) {
      assertThrows(IllegalArgumentException.class, () -> guard.admit("fleet/config", 0), "an unset token");
      assertThrows(IllegalArgumentException.class, () -> guard.admit("fleet/config", -3));
      assertTrue(guard.newest("fleet/config").isEmpty(), "nothing recorded");
    }
  }

  @Test
  void guardsSharingAFileSeeEachOthersMarksAndKeepThem() {
    Path file = dir.resolve("fencing.properties");
    FencingGuard a = FencingGuard.fileBacked(file);
    FencingGuard b = FencingGuard.fileBacked(file); // another process's, say
    assertTrue(a.admit("fleet/config", 10));
    assertFalse(b.admit("fleet/config", 5), "the other guard admitted a newer token meanwhile");
    assertTrue(a.admit("other/lock", 3));
    assertTrue(b.admit("fleet/config", 11));

    FencingGuard restarted = FencingGuard.fileBacked(file);
    assertEquals(11, restarted.newest("fleet/config").getAsLong());
    assertEquals(3, restarted.newest("other/lock").getAsLong(), "b's write kept a's mark");
    assertFalse(a.admit("fleet/config", 10), "a sees b's mark too");
  }
}
